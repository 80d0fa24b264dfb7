# Get-S3loPolicy / Set-S3loPolicy and immutable tags, against a local store and the S3 server.
BeforeDiscovery {
    $script:StoreKinds = @(@{ Kind = 'local' }, @{ Kind = 's3' }, @{ Kind = 'az' })
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'StoreHelpers.psm1') -Force
    $script:Suite = Initialize-TestSuite -Name policy -S3 -Azure
    $script:Work = $Suite.Work
    $script:Server = $Suite.Server
    $script:Layout = New-TestImage -Path (Join-Path $Work 'layout') -Layers 1 -LayerSize 20KB -Tag one
    $null = New-TestImage -Path $Layout -Layers 1 -LayerSize 20KB -Tag two
}

AfterAll {
    Complete-TestSuite $script:Suite
}

Describe 'Store policy on a <Kind> store' -ForEach $StoreKinds {
    BeforeEach {
        $store = New-TestStore -Kind $Kind -Root $Work -Server $Server
        $p = $store.Params
    }

    It 'writes s3lo.yaml in the shared schema and reads it back as objects' {
        Set-S3loPolicy $store.Uri -KeepLast 10 -MaxAge 90d -KeepTags stable, latest -Confirm:$false @p
        Set-S3loPolicy $store.Uri -Name myapp -Immutable -Confirm:$false @p
        Set-S3loPolicy $store.Uri -Name 'dev/*' -KeepLast 3 -MaxAge ([timespan]::FromHours(168)) -Confirm:$false @p
        $yaml = [Text.Encoding]::UTF8.GetString((Get-TestStoreObject $store 's3lo.yaml'))
        $yaml | Should -Match '(?m)^default:'
        $yaml | Should -Match '(?m)^\s+keep_last: 10$'
        $yaml | Should -Match '(?m)^\s+max_age: 90d$'
        $yaml | Should -Match '(?m)^\s+max_age: 7d$'
        $yaml | Should -Match '(?m)^\s+immutable: true$'
        $entries = Get-S3loPolicy $store.Uri @p
        ($entries | Where-Object Scope -eq 'default').KeepLast | Should -Be 10
        ($entries | Where-Object Scope -eq 'default').MaxAge | Should -Be ([timespan]::FromDays(90))
        ($entries | Where-Object Scope -eq 'default').KeepTags | Should -Be @('stable', 'latest')
        ($entries | Where-Object Scope -eq 'myapp').Immutable | Should -BeTrue
        ($entries | Where-Object Scope -eq 'dev/*').KeepLast | Should -Be 3
    }

    It 'shows the effective policy of an image and where each value came from' {
        Set-S3loPolicy $store.Uri -KeepLast 10 -MaxAge 90d -Confirm:$false @p
        Set-S3loPolicy $store.Uri -Name 'dev/*' -KeepLast 3 -Confirm:$false @p
        Set-S3loPolicy $store.Uri -Name 'dev/api' -Immutable -Confirm:$false @p
        $effective = Get-S3loPolicy $store.Uri -Name dev/api @p
        $effective.Immutable | Should -BeTrue
        $effective.ImmutableSource | Should -Be 'Image'
        $effective.KeepLast | Should -Be 10 -Because 'the exact entry wins over the pattern, and it sets no keep_last'
        $effective.KeepLastSource | Should -Be 'Store'
        $web = Get-S3loPolicy $store.Uri -Name dev/web @p
        $web.KeepLast | Should -Be 3
        $web.KeepLastSource | Should -Be 'Pattern'
        $web.MaxAge | Should -Be ([timespan]::FromDays(90))
        $web.Immutable | Should -BeFalse
        $web.ImmutableSource | Should -Be 'Default'
    }

    It 'unsets keys with -Clear, removing sections left empty' {
        Set-S3loPolicy $store.Uri -Name myapp -Immutable -KeepLast 5 -Confirm:$false @p
        Set-S3loPolicy $store.Uri -Name myapp -Clear KeepLast -Confirm:$false @p
        (Get-S3loPolicy $store.Uri @p | Where-Object Scope -eq 'myapp').KeepLast | Should -BeNullOrEmpty
        Set-S3loPolicy $store.Uri -Name myapp -Clear Immutable -Confirm:$false @p
        Get-S3loPolicy $store.Uri @p | Where-Object Scope -eq 'myapp' | Should -BeNullOrEmpty
    }

    It 'keeps comments and keys it does not know when it rewrites the file' {
        $original = "# store policy, managed by hand`ndefault:`n  lifecycle:`n    keep_last: 10 # floor`n  owner: platform-team`nfuture_key: {a: 1}`n"
        Set-TestStoreObject $store 's3lo.yaml' ([Text.Encoding]::UTF8.GetBytes($original))
        Set-S3loPolicy $store.Uri -KeepLast 20 -Confirm:$false @p
        [Text.Encoding]::UTF8.GetString((Get-TestStoreObject $store 's3lo.yaml')) |
            Should -Be ($original -replace 'keep_last: 10 # floor', 'keep_last: 20 # floor')
    }

    It 'changes nothing with -WhatIf, and -PassThru shows the result' {
        Set-S3loPolicy $store.Uri -KeepLast 1 -WhatIf @p
        Get-TestStoreKey $store | Should -Not -Contain 's3lo.yaml'
        $result = Set-S3loPolicy $store.Uri -Name app -KeepLast 2 -PassThru -Confirm:$false @p
        $result.Scope | Should -Be 'app'
        $result.KeepLast | Should -Be 2
    }

    It 'keeps an image named default apart from the store-wide section' {
        Set-S3loPolicy $store.Uri -KeepLast 5 -Confirm:$false @p
        $image = Set-S3loPolicy $store.Uri -Name default -KeepLast 1 -PassThru -Confirm:$false @p
        $image.IsDefault | Should -BeFalse
        $image.KeepLast | Should -Be 1
        $store_ = Set-S3loPolicy $store.Uri -MaxAge 30d -PassThru -Confirm:$false @p
        $store_.IsDefault | Should -BeTrue
        $store_.KeepLast | Should -Be 5
        (Get-S3loPolicy $store.Uri -Name default @p).KeepLast | Should -Be 1
    }

    It 'refuses -Chunked outside the store scope and bad durations' {
        { Set-S3loPolicy $store.Uri -Name app -Chunked -Confirm:$false @p } | Should -Throw -ErrorId 'InvalidPolicy,S3lo.PowerShell.Commands.SetS3loPolicyCommand'
        { Set-S3loPolicy $store.Uri -MaxAge 'ninety days' -Confirm:$false @p } | Should -Throw -ErrorId 'ParameterArgumentTransformationError,S3lo.PowerShell.Commands.SetS3loPolicyCommand'
    }

    It 'refuses a negative duration written as a TimeSpan string, at parameter binding' {
        { Set-S3loPolicy $store.Uri -MaxAge '-1:00:00' -Confirm:$false @p } | Should -Throw -ErrorId 'ParameterArgumentTransformationError,S3lo.PowerShell.Commands.SetS3loPolicyCommand'
        { Remove-S3loStaleBlob $store.Uri -GracePeriod '-1:00:00' -WhatIf @p } | Should -Throw -ErrorId 'ParameterArgumentTransformationError,S3lo.PowerShell.Commands.RemoveS3loStaleBlobCommand'
        { Invoke-S3loLifecycle $store.Uri -GracePeriod '-1:00:00' -WhatIf @p } | Should -Throw -ErrorId 'ParameterArgumentTransformationError,S3lo.PowerShell.Commands.InvokeS3loLifecycleCommand'
    }

    It 'loses no change when several Set-S3loPolicy calls run at once' {
        $jobs = 1..6 | ForEach-Object {
            $n = $_
            Start-ThreadJob -ArgumentList $n, $store.Uri, $p, $env:S3LO_MODULE_PATH -ScriptBlock {
                param($n, $uri, $p, $module)
                Import-Module $module
                Set-S3loPolicy $uri -Name "app$n" -KeepLast $n -Confirm:$false @p
            }
        }
        $jobs | Wait-Job | Receive-Job -ErrorAction Stop
        $entries = Get-S3loPolicy $store.Uri @p
        foreach ($n in 1..6) { ($entries | Where-Object Scope -eq "app$n").KeepLast | Should -Be $n }
    }

    Context 'immutable images' {
        BeforeEach {
            Set-S3loPolicy $store.Uri -Name 'locked' -Immutable -Confirm:$false @p
            $first = Push-S3loImage $Layout "$($store.Uri)locked:v1" -SourceTag one @p
        }

        It 'refuses to overwrite an existing tag with TagImmutable, and -Force overrides' {
            { Push-S3loImage $Layout "$($store.Uri)locked:v1" -SourceTag two @p -ErrorAction Stop } |
                Should -Throw -ErrorId 'TagImmutable,S3lo.PowerShell.Commands.PushS3loImageCommand'
            (Get-S3loImage "$($store.Uri)locked:v1" @p).Digest | Should -Be $first.Digest
            $forced = Push-S3loImage $Layout "$($store.Uri)locked:v1" -SourceTag two -Force @p
            (Get-S3loImage "$($store.Uri)locked:v1" @p).Digest | Should -Be $forced.Digest
        }

        It 'accepts pushing the very same image again' {
            (Push-S3loImage $Layout "$($store.Uri)locked:v1" -SourceTag one @p).Digest | Should -Be $first.Digest
        }

        It 'refuses to remove an immutable tag unless -Force' {
            { Remove-S3loImage "$($store.Uri)locked:v1" -Confirm:$false @p -ErrorAction Stop } |
                Should -Throw -ErrorId 'TagImmutable,S3lo.PowerShell.Commands.RemoveS3loImageCommand'
            Get-S3loImage "$($store.Uri)locked:v1" @p | Should -Not -BeNullOrEmpty
            Remove-S3loImage "$($store.Uri)locked:v1" -Force -Confirm:$false @p
            Get-S3loImage $store.Uri -Name locked @p | Should -BeNullOrEmpty
        }

        It 'lets exactly one of two racing pushes of a new immutable tag win' {
            foreach ($round in 1..5) {
                $tag = "race$round"
                $jobs = 'one', 'two' | ForEach-Object {
                    Start-ThreadJob -ArgumentList $_, "$($store.Uri)locked:$tag", $Layout, $p, $env:S3LO_MODULE_PATH -ScriptBlock {
                        param($sourceTag, $destination, $layout, $p, $module)
                        Import-Module $module
                        try { (Push-S3loImage $layout $destination -SourceTag $sourceTag @p -ErrorAction Stop).Digest }
                        catch { $_.FullyQualifiedErrorId }
                    }
                }
                $outcomes = $jobs | Wait-Job | Receive-Job
                @($outcomes | Where-Object { $_ -like 'sha256:*' }).Count | Should -Be 1 -Because "round $round"
                @($outcomes | Where-Object { $_ -like 'TagImmutable,*' }).Count | Should -Be 1 -Because "round $round"
                (Get-S3loImage "$($store.Uri)locked:$tag" @p).Digest | Should -Be ($outcomes | Where-Object { $_ -like 'sha256:*' })
            }
        }
    }
}
