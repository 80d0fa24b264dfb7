# Remove-S3loImage: deletes exactly a tag's own objects, by reference or from the pipeline.
BeforeDiscovery {
    $script:StoreKinds = @(@{ Kind = 'local' }, @{ Kind = 's3' }, @{ Kind = 'az' })
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'StoreHelpers.psm1') -Force
    $script:Suite = Initialize-TestSuite -Name remove -S3 -Azure
    $script:Work = $Suite.Work
    $script:Server = $Suite.Server
    $script:Layout = New-TestImage -Path (Join-Path $Work 'layout') -Layers 1 -LayerSize 50KB -Tag v1
}

AfterAll {
    Complete-TestSuite $script:Suite
}

Describe 'Remove-S3loImage on a <Kind> store' -ForEach $StoreKinds {
    BeforeEach {
        $store = New-TestStore -Kind $Kind -Root $Work -Server $Server
        $p = $store.Params
        foreach ($ref in 'app:v1', 'app:v1.1', 'app:v2', 'app/v1:x', 'other:v1') {
            $null = Push-S3loImage $Layout "$($store.Uri)$ref" @p
        }
        $blobs = Get-TestStoreKey $store -Prefix 'blobs/'
    }

    It 'deletes exactly the tag: manifest.json, oci-layout, signatures and legacy files; blobs and other images stay' {
        Set-TestStoreObject $store 'manifests/app/v1/signatures/0123456789abcdef.json' ([Text.Encoding]::UTF8.GetBytes('{}'))
        foreach ($legacy in 'history.json', 'index.json', 'config.json') { Set-TestStoreObject $store "manifests/app/v1/$legacy" ([byte[]](1)) }
        $before = Get-TestStoreKey $store

        Remove-S3loImage "$($store.Uri)app:v1" -Confirm:$false @p

        $after = Get-TestStoreKey $store
        $removed = $before | Where-Object { $_ -notin $after }
        $removed | Sort-Object | Should -Be (@('manifests/app/v1/config.json', 'manifests/app/v1/history.json', 'manifests/app/v1/index.json',
            'manifests/app/v1/manifest.json', 'manifests/app/v1/oci-layout', 'manifests/app/v1/signatures/0123456789abcdef.json') | Sort-Object)
        $after | Should -Contain 'manifests/app/v1/x/manifest.json' -Because 'image app/v1 is not tag app:v1'
        $after | Should -Contain 'manifests/app/v1.1/manifest.json'
        Get-TestStoreKey $store -Prefix 'blobs/' | Should -Be $blobs
    }

    It 'removes what the pipeline selects, and -WhatIf removes nothing' {
        Get-S3loImage $store.Uri @p | Where-Object Tag -like 'v1*' | Remove-S3loImage -WhatIf
        @(Get-S3loImage $store.Uri @p).Count | Should -Be 5

        $removed = Get-S3loImage $store.Uri -Name app @p | Where-Object Tag -like 'v1*' | Remove-S3loImage -Confirm:$false -PassThru
        $removed.Reference | Sort-Object | Should -Be (@("$($store.Uri)app:v1", "$($store.Uri)app:v1.1") | Sort-Object)
        (Get-S3loImage $store.Uri @p).Reference | Sort-Object | Should -Be (@("$($store.Uri)app/v1:x", "$($store.Uri)app:v2", "$($store.Uri)other:v1") | Sort-Object)
    }

    It 'keeps a piped tag that was pushed again since it was listed, reporting TagChanged' {
        $listed = Get-S3loImage "$($store.Uri)app:v2" @p
        $other = New-TestImage -Path (Join-Path $Work "other-$Kind") -Layers 1 -LayerSize 10KB -Tag v1
        $pushed = Push-S3loImage $other "$($store.Uri)app:v2" @p
        $pushed.Digest | Should -Not -Be $listed.Digest

        $listed | Remove-S3loImage -Confirm:$false -ErrorVariable failures -ErrorAction SilentlyContinue
        $failures[0].FullyQualifiedErrorId | Should -Be 'TagChanged,S3lo.PowerShell.Commands.RemoveS3loImageCommand'
        (Get-S3loImage "$($store.Uri)app:v2" @p).Digest | Should -Be $pushed.Digest

        Get-S3loImage "$($store.Uri)app:v2" @p | Remove-S3loImage -Confirm:$false
        (Get-S3loImage $store.Uri -Name app @p).Tag | Should -Not -Contain 'v2'
    }

    It 'emits nothing without -PassThru' {
        Remove-S3loImage "$($store.Uri)app:v2" -Confirm:$false @p | Should -BeNullOrEmpty
        (Get-S3loImage $store.Uri -Name app @p).Tag | Should -Not -Contain 'v2' -Because 'the tag is removed all the same'
    }

    It 'removes every tag of an image that has a given digest' {
        $digest = (Get-S3loImage "$($store.Uri)app:v1" @p).Digest
        $removed = Remove-S3loImage "$($store.Uri)app@$digest" -Confirm:$false -PassThru @p
        $removed.Tag | Sort-Object | Should -Be (@('v1', 'v1.1', 'v2') | Sort-Object)
        (Get-S3loImage $store.Uri @p).Reference | Sort-Object | Should -Be (@("$($store.Uri)app/v1:x", "$($store.Uri)other:v1") | Sort-Object)
    }

    It 'takes -Store, -Name and -Tag' {
        Remove-S3loImage -Store $store.Uri -Name other -Tag v1 -Confirm:$false @p
        (Get-S3loImage $store.Uri -Name other @p) | Should -BeNullOrEmpty
    }

    It 'reports a missing tag as ImageNotFound and goes on with the rest' {
        Remove-S3loImage "$($store.Uri)app:nope", "$($store.Uri)app:v2" -Confirm:$false @p -ErrorVariable failures -ErrorAction SilentlyContinue
        $failures[0].FullyQualifiedErrorId | Should -Be 'ImageNotFound,S3lo.PowerShell.Commands.RemoveS3loImageCommand'
        (Get-S3loImage $store.Uri -Name app @p).Tag | Should -Not -Contain 'v2'
    }

    It 'removes a tag whose manifest or config cannot be read' {
        Set-TestStoreObject $store 'manifests/broken/v1/manifest.json' ([Text.Encoding]::UTF8.GetBytes('not json'))
        Set-TestStoreObject $store 'manifests/broken/v1/oci-layout' ([Text.Encoding]::UTF8.GetBytes('{}'))
        $removed = Remove-S3loImage "$($store.Uri)broken:v1" -Confirm:$false -PassThru @p
        $removed.Kind | Should -Be 'Unknown'
        Get-TestStoreKey $store -Prefix 'manifests/broken/' | Should -BeNullOrEmpty
    }

    It 'requires a tag or digest' {
        { Remove-S3loImage "$($store.Uri)app" -Confirm:$false @p } | Should -Throw -ErrorId 'TagRequired,S3lo.PowerShell.Commands.RemoveS3loImageCommand'
        @(Get-S3loImage $store.Uri @p).Count | Should -Be 5
    }

    It 'asks before removing: ConfirmImpact is High' {
        (Get-Command Remove-S3loImage).ImplementingType.GetCustomAttributes([System.Management.Automation.CmdletAttribute], $false).ConfirmImpact | Should -Be 'High'
    }
}
