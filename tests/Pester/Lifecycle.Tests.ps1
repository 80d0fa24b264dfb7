# Lifecycle pruning (Get-S3loLifecyclePlan, Invoke-S3loLifecycle) and blob garbage collection
# (Remove-S3loStaleBlob), against a local store and the S3 server.
BeforeDiscovery {
    $script:StoreKinds = @(@{ Kind = 'local' }, @{ Kind = 's3' }, @{ Kind = 'az' })
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'StoreHelpers.psm1') -Force
    $script:Suite = Initialize-TestSuite -Name lifecycle -S3 -Azure
    $script:Work = $Suite.Work
    $script:Server = $Suite.Server
    $script:Layout = Join-Path $Work 'layout'
    foreach ($tag in 'v1', 'v2', 'v3', 'v4', 'stable') { $null = New-TestImage -Path $Layout -Layers 1 -LayerSize 8KB -Tag $tag }

    # Pushes tags in the order given, with no pause between them.
    function Push-Tags($Store, [string] $Name, [string[]] $Tags) {
        $p = $Store.Params
        foreach ($tag in $Tags) {
            $null = Push-S3loImage $Layout "$($Store.Uri)${Name}:$tag" -SourceTag $tag @p
        }
    }

    # The S3 server's LastModified and Date have whole seconds: after this pause, whatever was pushed before
    # it is strictly older, on every store, than what is pushed after it and than the store's clock.
    function Wait-StoreSecond { Start-Sleep -Milliseconds 1100 }
}

AfterAll {
    Complete-TestSuite $script:Suite
}

Describe 'Lifecycle on a <Kind> store' -ForEach $StoreKinds {
    BeforeEach {
        $store = New-TestStore -Kind $Kind -Root $Work -Server $Server
        $p = $store.Params
        # keep_last 2 keeps the newest two tags besides stable: v3 and v4 must be newer than v1 and v2
        # (tags modified in the same second are ordered by name, which would keep v1 and v2). The pause
        # also ages v1's and v2's blobs past the clock a collection with -GracePeriod 0 reads.
        Push-Tags $store app 'v1', 'v2'
        Wait-StoreSecond
        Push-Tags $store app 'stable', 'v3', 'v4'
        # Images other and locked share v3's and v4's blobs, so pruning app's v1 and v2 frees theirs.
        Push-Tags $store other 'v3', 'v4'
        Push-Tags $store locked 'v3', 'v4'
        Set-S3loPolicy $store.Uri -Name app -KeepLast 2 -KeepTags stable -Confirm:$false @p
        Set-S3loPolicy $store.Uri -Name locked -KeepLast 1 -Immutable -Confirm:$false @p
    }

    It 'previews a decision and a reason for every tag' {
        $plan = Get-S3loLifecyclePlan $store.Uri @p
        $plan.Count | Should -Be 9
        $app = $plan | Where-Object Name -eq app
        ($app | Where-Object Action -eq Remove).Tag | Sort-Object | Should -Be @('v1', 'v2')
        ($app | Where-Object Tag -eq stable).Reason | Should -Match 'kept tag'
        ($app | Where-Object Tag -eq v4).Action | Should -Be 'Keep'
        ($plan | Where-Object Name -eq other).Action | Should -Be @('Keep', 'Keep')
        ($plan | Where-Object Name -eq other)[0].Reason | Should -Match 'no lifecycle'
        ($plan | Where-Object Name -eq locked).Reason | Should -Be @('immutable', 'immutable')
    }

    It 'composes with Remove-S3loImage' {
        Get-S3loLifecyclePlan $store.Uri -Name app @p | Where-Object Action -eq 'Remove' | Remove-S3loImage -Confirm:$false
        (Get-S3loImage $store.Uri -Name app @p).Tag | Sort-Object | Should -Be (@('stable', 'v3', 'v4') | Sort-Object)
    }

    It 'prunes by policy and collects the freed blobs in one call, and -WhatIf changes nothing' {
        $before = Get-TestStoreKey $store
        $preview = Invoke-S3loLifecycle $store.Uri -GracePeriod 0 -WhatIf @p
        $preview.TagsRemoved | Should -Be 0
        Get-TestStoreKey $store | Should -Be $before

        $summary = Invoke-S3loLifecycle $store.Uri -GracePeriod 0 -Confirm:$false @p
        $summary.TagsEvaluated | Should -Be 9
        $summary.TagsRemoved | Should -Be 2
        $summary.BlobsRemoved | Should -BeGreaterOrEqual 4 -Because 'v1 and v2 each had their own config and layer'
        $summary.BytesFreed | Should -BeGreaterThan 16KB
        (Get-S3loImage $store.Uri -Name app @p).Tag | Sort-Object | Should -Be (@('stable', 'v3', 'v4') | Sort-Object)
        foreach ($image in Get-S3loImage $store.Uri @p) {
            $null = Save-S3loImage -InputObject $image -Path (Join-Path $Work "check-$Kind-$([guid]::NewGuid().ToString('N'))")
        }
    }

    It 'removes tags beyond keep_last only when older than max_age' -Skip:($Kind -ne 'local') {
        Set-S3loPolicy $store.Uri -Name other -KeepLast 0 -MaxAge 30d -Confirm:$false @p
        [IO.File]::SetLastWriteTimeUtc((Join-Path $store.Root 'manifests/other/v3/manifest.json'), [DateTime]::UtcNow.AddDays(-40))
        [IO.File]::SetLastWriteTimeUtc((Join-Path $store.Root 'manifests/other/v4/manifest.json'), [DateTime]::UtcNow.AddDays(-10))
        $plan = Get-S3loLifecyclePlan $store.Uri -Name other @p
        ($plan | Where-Object Tag -eq v3).Action | Should -Be 'Remove'
        ($plan | Where-Object Tag -eq v3).Reason | Should -Match 'older than 30d'
        ($plan | Where-Object Tag -eq v4).Action | Should -Be 'Keep'
    }
}

Describe 'Remove-S3loStaleBlob on a <Kind> store' -ForEach $StoreKinds {
    BeforeEach {
        $store = New-TestStore -Kind $Kind -Root $Work -Server $Server
        $p = $store.Params
        # The order of v1 and v2 does not matter, but v1's blobs must be older than the clock a collection
        # with -GracePeriod 0 reads, or they count as recent.
        Push-Tags $store app 'v1'
        Wait-StoreSecond
        Push-Tags $store app 'v2'
        Remove-S3loImage "$($store.Uri)app:v1" -Confirm:$false @p
        $v1Blobs = Get-TestBlobDigest (Get-TestLayoutManifest -Layout $Layout -Tag v1) | ForEach-Object { "blobs/sha256/$($_.Substring(7))" }
        $v2Blobs = Get-TestBlobDigest (Get-TestLayoutManifest -Layout $Layout -Tag v2) | ForEach-Object { "blobs/sha256/$($_.Substring(7))" }
        $orphans = $v1Blobs | Where-Object { $_ -notin $v2Blobs }
    }

    It 'lists with -WhatIf what would go, with sizes, and deletes nothing' {
        $before = Get-TestStoreKey $store
        $listed = Remove-S3loStaleBlob $store.Uri -GracePeriod 0 -WhatIf @p
        $listed.Key | Sort-Object | Should -Be ($orphans | Sort-Object)
        $listed | ForEach-Object { $_.Size | Should -BeGreaterThan 0; $_.Removed | Should -BeFalse }
        Get-TestStoreKey $store | Should -Be $before
    }

    It 'removes unreferenced blobs past the grace period and keeps every tag whole' {
        $removed = Remove-S3loStaleBlob $store.Uri -GracePeriod 0 -Confirm:$false @p
        $removed.Key | Sort-Object | Should -Be ($orphans | Sort-Object)
        $keys = Get-TestStoreKey $store
        foreach ($key in $orphans) { $keys | Should -Not -Contain $key }
        foreach ($key in $v2Blobs) { $keys | Should -Contain $key }
        $null = Save-S3loImage "$($store.Uri)app:v2" -Path (Join-Path $Work "gc-$Kind-$([guid]::NewGuid().ToString('N'))") @p
    }

    It 'keeps unreferenced blobs younger than the default grace period of one hour' {
        Remove-S3loStaleBlob $store.Uri -Confirm:$false @p | Should -BeNullOrEmpty
        $keys = Get-TestStoreKey $store
        foreach ($key in $orphans) { $keys | Should -Contain $key }
    }

    It 'stops with InvalidManifest before deleting anything when a manifest cannot be read' {
        Set-TestStoreObject $store 'manifests/broken/v1/manifest.json' ([Text.Encoding]::UTF8.GetBytes('not json'))
        $before = Get-TestStoreKey $store
        { Remove-S3loStaleBlob $store.Uri -GracePeriod 0 -Confirm:$false @p -ErrorAction Stop } |
            Should -Throw -ErrorId 'InvalidManifest,S3lo.PowerShell.Commands.RemoveS3loStaleBlobCommand'
        Get-TestStoreKey $store | Should -Be $before
    }
}
