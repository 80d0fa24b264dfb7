# Get-S3loImage and Get-S3loManifest: listing and inspecting tags of a local store and an S3 store.
BeforeDiscovery {
    $script:StoreKinds = @(@{ Kind = 'local' }, @{ Kind = 's3' }, @{ Kind = 'az' })
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'StoreHelpers.psm1') -Force
    $script:Suite = Initialize-TestSuite -Name get -S3 -Azure
    $script:Work = $Suite.Work
    $script:Server = $Suite.Server
    $script:Layout = New-TestImage -Path (Join-Path $Work 'layout') -Layers 2 -LayerSize 100KB -Tag amd
    $null = New-TestImage -Path $Layout -Layers 1 -LayerSize 20KB -Tag arm
    $script:IndexDigest = New-TestIndexLayout -Layout $Layout -Platforms ([ordered]@{ amd = 'linux/amd64'; arm = 'linux/arm/v7' }) -Tag multi
    $script:AmdManifest = Get-TestLayoutManifest -Layout $Layout -Tag amd
}

AfterAll {
    Complete-TestSuite $script:Suite
}

Describe 'Get-S3loImage on a <Kind> store' -ForEach $StoreKinds {
    BeforeAll {
        $store = New-TestStore -Kind $Kind -Root $Work -Server $Server
        $p = $store.Params
        foreach ($ref in 'app:v1', 'app:v1.1', 'app:v2', 'app/v1:x', 'team/api:v1', 'team/web:stable') {
            $null = Push-S3loImage $Layout "$($store.Uri)$ref" -SourceTag amd @p
        }
        $null = Push-S3loImage $Layout "$($store.Uri)app:multi" -SourceTag multi @p
        # What older s3lo versions left beside a tag must not show up as images.
        Set-TestStoreObject $store 'manifests/app/v1/history.json' ([byte[]](1, 2, 3))
    }

    It 'emits one object per tag with store, name, tag, reference, digest, kind, platforms, size and time' {
        $all = @(Get-S3loImage $store.Uri @p)
        $all.Count | Should -Be 7
        $v1 = $all | Where-Object { $_.Name -eq 'app' -and $_.Tag -eq 'v1' }
        $v1.Store | Should -Be $store.Uri
        $v1.Reference | Should -Be "$($store.Uri)app:v1"
        $v1.Digest | Should -Be (Get-TestSha256 ([Text.Encoding]::UTF8.GetBytes($AmdManifest)))
        $v1.Kind | Should -Be 'Image'
        $v1.Platforms | Should -Be @('linux/amd64')
        $manifest = $AmdManifest | ConvertFrom-Json
        $v1.Size | Should -Be ($AmdManifest.Length + $manifest.config.size + ($manifest.layers | Measure-Object size -Sum).Sum)
        $v1.LastModified | Should -BeGreaterThan ([DateTimeOffset]::UtcNow.AddMinutes(-30))
        $multi = $all | Where-Object Tag -eq 'multi'
        $multi.Kind | Should -Be 'Index'
        $multi.Platforms | Should -Be @('linux/amd64', 'linux/arm/v7')
        $multi.Digest | Should -Be $IndexDigest
    }

    It 'filters names and tags with wildcards' {
        (Get-S3loImage $store.Uri -Name 'team/*' @p).Reference | Sort-Object | Should -Be (@("$($store.Uri)team/api:v1", "$($store.Uri)team/web:stable") | Sort-Object)
        (Get-S3loImage $store.Uri -Name app -Tag 'v1*' @p).Tag | Sort-Object | Should -Be (@('v1', 'v1.1') | Sort-Object)
        (Get-S3loImage $store.Uri -Tag stable @p).Name | Should -Be 'team/web'
        @(Get-S3loImage $store.Uri -Name 'nothing*' @p) | Should -BeNullOrEmpty
    }

    It 'keeps image app and image app/v1 apart' {
        (Get-S3loImage $store.Uri -Name app @p).Tag | Sort-Object | Should -Be (@('multi', 'v1', 'v1.1', 'v2') | Sort-Object)
        (Get-S3loImage $store.Uri -Name app/v1 @p).Tag | Should -Be 'x'
        (Get-S3loImage "$($store.Uri)app:v1" @p).Reference | Should -Be "$($store.Uri)app:v1"
    }

    It 'narrows to the tags with the digest of an image reference, and refuses -Name or -Tag beside a reference that names them' {
        $digest = (Get-S3loImage "$($store.Uri)app:v1" @p).Digest
        (Get-S3loImage "$($store.Uri)app@$digest" @p).Tag | Sort-Object | Should -Be (@('v1', 'v1.1', 'v2') | Sort-Object)
        (Get-S3loImage "$($store.Uri)app@$digest" -Tag 'v1*' @p).Tag | Sort-Object | Should -Be (@('v1', 'v1.1') | Sort-Object)
        { Get-S3loImage "$($store.Uri)app" -Name team/api @p } | Should -Throw -ErrorId 'InvalidArgument,S3lo.PowerShell.Commands.GetS3loImageCommand'
        { Get-S3loImage "$($store.Uri)app:v1" -Tag v2 @p } | Should -Throw -ErrorId 'InvalidArgument,S3lo.PowerShell.Commands.GetS3loImageCommand'
        (Get-S3loImage "$($store.Uri)app" -Tag v2 @p).Reference | Should -Be "$($store.Uri)app:v2"
    }

    It 'lists an empty store as nothing' {
        $empty = New-TestStore -Kind $Kind -Root $Work -Server $Server
        $ep = $empty.Params
        @(Get-S3loImage $empty.Uri @ep) | Should -BeNullOrEmpty
    }

    It 'accepts a plain directory path as the store' -Skip:($Kind -ne 'local') {
        Push-Location $Work
        try {
            (Get-S3loImage (Split-Path -Leaf $store.Root) -Name team/api).Reference | Should -Be "$($store.Uri)team/api:v1"
            (Get-S3loImage "local://./$(Split-Path -Leaf $store.Root)/" -Name team/api).Reference | Should -Be "$($store.Uri)team/api:v1"
        } finally { Pop-Location }
    }

    It 'lists the other tags when one manifest cannot be read, and reports that one as InvalidManifest' {
        $broken = New-TestStore -Kind $Kind -Root $Work -Server $Server
        $bp = $broken.Params
        $null = Push-S3loImage $Layout "$($broken.Uri)app:v1" -SourceTag amd @bp
        Set-TestStoreObject $broken 'manifests/app/bad/manifest.json' ([Text.Encoding]::UTF8.GetBytes('not json'))
        $listed = Get-S3loImage $broken.Uri @bp -ErrorVariable failures -ErrorAction SilentlyContinue
        $listed.Reference | Should -Be "$($broken.Uri)app:v1"
        $failures.Count | Should -Be 1
        $failures[0].FullyQualifiedErrorId | Should -Be 'InvalidManifest,S3lo.PowerShell.Commands.GetS3loImageCommand'
        $failures[0].TargetObject | Should -Be "$($broken.Uri)app:bad"
    }

    It 'never shows the secret key in the objects it emits' -Skip:($Kind -ne 's3') {
        $image = Get-S3loImage "$($store.Uri)app:v1" @p
        $image | ConvertTo-Json -Depth 6 | Should -Not -Match ([regex]::Escape($Server.SecretKey))
        $image | Format-List * | Out-String | Should -Not -Match ([regex]::Escape($Server.SecretKey))
        "$($image.Location.Connection)" | Should -Not -Match ([regex]::Escape($Server.SecretKey))
    }

    It 'fails clearly on a malformed store reference' {
        { Get-S3loImage 's3://No_Such/' @p } | Should -Throw -ErrorId 'InvalidReference,S3lo.PowerShell.Commands.GetS3loImageCommand'
    }
}

Describe 'Get-S3loManifest on a <Kind> store' -ForEach $StoreKinds {
    BeforeAll {
        $store = New-TestStore -Kind $Kind -Root $Work -Server $Server
        $p = $store.Params
        $null = Push-S3loImage $Layout "$($store.Uri)app:v1" -SourceTag amd @p
        $null = Push-S3loImage $Layout "$($store.Uri)app:multi" -SourceTag multi @p
    }

    It 'shows config, layers, media type and the raw JSON exactly as stored' {
        $m = Get-S3loManifest "$($store.Uri)app:v1" @p
        $expected = $AmdManifest | ConvertFrom-Json
        $m.Reference | Should -Be "$($store.Uri)app:v1"
        $m.MediaType | Should -Be 'application/vnd.oci.image.manifest.v1+json'
        $m.Kind | Should -Be 'Image'
        $m.Config.Digest | Should -Be $expected.config.digest
        $m.Layers.Digest | Should -Be @($expected.layers.digest)
        $m.Layers.Size | Should -Be @($expected.layers.size)
        $m.Json | Should -Be $AmdManifest
    }

    It 'takes objects from Get-S3loImage through the pipeline' {
        $all = @(Get-S3loImage $store.Uri @p | Get-S3loManifest)
        $all.Count | Should -Be 2
        ($all | Where-Object Kind -eq 'Index').Reference | Should -Be "$($store.Uri)app:multi"
    }

    It 'shows an index with its platforms and attestation entries, and -Platform resolves one' {
        $index = Get-S3loManifest "$($store.Uri)app:multi" @p
        $index.Kind | Should -Be 'Index'
        $index.Digest | Should -Be $IndexDigest
        $index.Manifests.Platform | Should -Be @('linux/amd64', 'linux/arm/v7', 'unknown/unknown')
        $index.Manifests.IsAttestation | Should -Be @($false, $false, $true)
        $arm = Get-S3loManifest "$($store.Uri)app:multi" -Platform linux/arm/v7 @p
        $arm.Platform | Should -Be 'linux/arm/v7'
        $arm.Kind | Should -Be 'Image'
        $arm.Digest | Should -Be ($index.Manifests | Where-Object Platform -eq 'linux/arm/v7').Digest
    }

    It 'finds a manifest by digest' {
        $v1 = Get-S3loManifest "$($store.Uri)app:v1" @p
        (Get-S3loManifest "$($store.Uri)app@$($v1.Digest)" @p).Json | Should -Be $v1.Json
        $index = Get-S3loManifest "$($store.Uri)app:multi" @p
        $child = ($index.Manifests | Where-Object Platform -eq 'linux/arm/v7').Digest
        (Get-S3loManifest "$($store.Uri)app@$child" @p).Digest | Should -Be $child
        (Get-S3loManifest -Store $store.Uri -Name app -Digest $v1.Digest @p).Digest | Should -Be $v1.Digest
    }

    It 'reports a missing tag as a non-terminating ImageNotFound and goes on with the next' {
        $results = Get-S3loManifest "$($store.Uri)app:nope", "$($store.Uri)app:v1" @p -ErrorVariable failures -ErrorAction SilentlyContinue
        @($results).Count | Should -Be 1
        $failures[0].FullyQualifiedErrorId | Should -Be 'ImageNotFound,S3lo.PowerShell.Commands.GetS3loManifestCommand'
        $failures[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
    }

    It 'refuses a manifest.json that is not a manifest with InvalidManifest' {
        Set-TestStoreObject $store 'manifests/broken/v1/manifest.json' ([Text.Encoding]::UTF8.GetBytes('{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}'))
        { Get-S3loManifest "$($store.Uri)broken:v1" @p -ErrorAction Stop } | Should -Throw -ErrorId 'InvalidManifest,S3lo.PowerShell.Commands.GetS3loManifestCommand'
    }
}
