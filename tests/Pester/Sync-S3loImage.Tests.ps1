# Sync-S3loImage: mirroring a Distribution registry repository into stores and a store image into a registry.
BeforeDiscovery {
    $script:StoreKinds = @(@{ Kind = 'local' }, @{ Kind = 's3' }, @{ Kind = 'az' })
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'StoreHelpers.psm1') -Force
    $script:Suite = Initialize-TestSuite -Name sync -S3 -Azure
    $script:Work = $Suite.Work
    $script:Server = $Suite.Server
    $script:Registry = Start-TestRegistry
    $script:Layout = New-TestImage -Path (Join-Path $Work 'layout') -Layers 2 -LayerSize 40KB -Tag one
    $null = New-TestImage -Path $Layout -Layers 1 -LayerSize 30KB -Tag two
    $null = New-TestImage -Path $Layout -Layers 1 -LayerSize 20KB -Tag three
    $script:Repositories = 0

    # A fresh repository of the test registry holding the given tags, each as the layout's image of that name.
    function New-TestRepository([hashtable] $Tags) {
        $script:Repositories++
        $repository = "$($Registry.Host)/mirror/src$script:Repositories"
        foreach ($tag in $Tags.Keys) { Set-TestRepositoryTag $repository $tag $Tags[$tag] }
        $repository
    }
    function Set-TestRepositoryTag([string] $Repository, [string] $Tag, [string] $Image) {
        $null = Invoke-TestProgram skopeo @('--insecure-policy', 'copy', '--quiet', '--dest-tls-verify=false', "oci:${Layout}:$Image", "docker://${Repository}:$Tag")
    }
    function Get-TestRegistryDigest([string] $Reference) {
        ((Invoke-TestProgram skopeo @('inspect', '--tls-verify=false', "docker://$Reference")) -join "`n" | ConvertFrom-Json).Digest
    }
    function Remove-TestRepositoryTag([string] $Reference) {
        $null = Invoke-TestProgram skopeo @('delete', '--tls-verify=false', "docker://$Reference")
    }
}

AfterAll {
    Stop-TestRegistry $script:Registry
    Complete-TestSuite $script:Suite
}

Describe 'Sync-S3loImage from a registry into a <Kind> store' -ForEach $StoreKinds {
    BeforeEach {
        $store = New-TestStore -Kind $Kind -Root $Work -Server $Server
        $p = $store.Params
        $source = New-TestRepository @{ 'v1' = 'one'; 'v2' = 'two'; 'latest' = 'three' }
        $target = "$($store.Uri)mirror/app"
    }

    It 'copies the tags -Tag selects, with the digests the registry serves' {
        $results = @(Sync-S3loImage $source $target -Tag 'v*' @p)
        $results.Tag | Should -Be @('v1', 'v2')
        $results.Action | Should -Be @('Copied', 'Copied')
        foreach ($r in $results) {
            $r.Digest | Should -Be (Get-TestRegistryDigest "${source}:$($r.Tag)")
            (Get-S3loManifest "${target}:$($r.Tag)" @p).Digest | Should -Be $r.Digest
            $r.BlobsUploaded | Should -BeGreaterThan 0
            $r.PreviousDigest | Should -BeNullOrEmpty
        }
        @(Get-S3loImage $store.Uri -Name mirror/app @p).Tag | Should -Be @('v1', 'v2')
    }

    It 'leaves an unchanged tag alone without moving a byte, and copies a moved one' {
        $null = Sync-S3loImage $source $target -Tag 'v*' @p
        $before = @(Get-TestStoreKey $store)
        $again = @(Sync-S3loImage $source $target -Tag 'v*' @p)
        $again.Action | Should -Be @('Unchanged', 'Unchanged')
        ($again | Measure-Object BytesUploaded -Sum).Sum | Should -Be 0
        @(Get-TestStoreKey $store) | Should -Be $before

        $old = (Get-S3loManifest "${target}:v1" @p).Digest
        Set-TestRepositoryTag $source 'v1' 'three'
        $moved = @(Sync-S3loImage $source $target -Tag 'v*' @p)
        ($moved | Where-Object Tag -eq 'v1').Action | Should -Be 'Copied'
        ($moved | Where-Object Tag -eq 'v1').PreviousDigest | Should -Be $old
        ($moved | Where-Object Tag -eq 'v1').Digest | Should -Be (Get-TestRegistryDigest "${source}:v1")
        ($moved | Where-Object Tag -eq 'v2').Action | Should -Be 'Unchanged'
        (Get-S3loManifest "${target}:v1" @p).Digest | Should -Be (Get-TestRegistryDigest "${source}:v1")
    }

    It 'keeps a tag the source deleted unless -Prune, which removes it' {
        $null = Sync-S3loImage $source $target @p
        Remove-TestRepositoryTag "${source}:v2"
        $kept = @(Sync-S3loImage $source $target @p)
        $kept.Tag | Should -Not -Contain 'v2'
        @(Get-S3loImage $store.Uri -Name mirror/app @p).Tag | Should -Contain 'v2'

        $pruned = @(Sync-S3loImage $source $target -Prune @p)
        ($pruned | Where-Object Tag -eq 'v2').Action | Should -Be 'Removed'
        @(Get-S3loImage $store.Uri -Name mirror/app @p).Tag | Should -Not -Contain 'v2'
        @(Get-S3loImage $store.Uri -Name mirror/app @p).Tag | Should -Contain 'v1'
    }

    It 'prunes only among the tags -Tag selects' {
        $null = Sync-S3loImage $source $target @p
        Remove-TestRepositoryTag "${source}:latest"
        Remove-TestRepositoryTag "${source}:v2"
        $results = @(Sync-S3loImage $source $target -Tag 'v*' -Prune @p)
        ($results | Where-Object Action -eq 'Removed').Tag | Should -Be 'v2'
        @(Get-S3loImage $store.Uri -Name mirror/app @p).Tag | Should -Contain 'latest'
    }

    It 'changes nothing and emits nothing with -WhatIf' {
        $null = Sync-S3loImage $source $target -Tag v1 @p
        Remove-TestRepositoryTag "${source}:v1"
        $before = @(Get-TestStoreKey $store)
        @(Sync-S3loImage $source $target -Prune -WhatIf @p) | Where-Object Action -ne 'Unchanged' | Should -BeNullOrEmpty
        @(Get-TestStoreKey $store) | Should -Be $before
    }
}

Describe 'Sync-S3loImage and an immutable destination' {
    It 'adds new tags but neither overwrites nor removes existing ones, with TagImmutable' {
        $store = New-TestStore -Kind local -Root $Work
        $source = New-TestRepository @{ 'v1' = 'one'; 'v2' = 'two' }
        $target = "$($store.Uri)mirror/app"
        $null = Sync-S3loImage $source $target -Tag v1
        Set-S3loPolicy $store.Uri -Name mirror/app -Immutable -Confirm:$false
        $pinned = (Get-S3loManifest "${target}:v1").Digest
        Set-TestRepositoryTag $source 'v1' 'three'
        Set-TestRepositoryTag $source 'v3' 'three'
        Remove-TestRepositoryTag "${source}:v2"

        $results = @(Sync-S3loImage $source $target -Prune -ErrorVariable failures -ErrorAction SilentlyContinue)
        ($results | Where-Object Tag -eq 'v3').Action | Should -Be 'Copied'
        @($failures).Count | Should -Be 1
        $failures[0].FullyQualifiedErrorId | Should -Be 'TagImmutable,S3lo.PowerShell.Commands.SyncS3loImageCommand'
        (Get-S3loManifest "${target}:v1").Digest | Should -Be $pinned
    }
}

Describe 'Sync-S3loImage from a store into a registry' {
    It 'copies and prunes registry tags, and leaves unchanged ones alone' {
        $store = New-TestStore -Kind s3 -Root $Work -Server $Server
        $p = $store.Params
        $null = Push-S3loImage $Layout -SourceTag one "$($store.Uri)app:v1" @p
        $null = Push-S3loImage $Layout -SourceTag two "$($store.Uri)app:v2" @p
        $script:Repositories++
        $repository = "$($Registry.Host)/mirror/out$script:Repositories"
        Set-TestRepositoryTag $repository 'gone' 'three'

        $first = @(Sync-S3loImage "$($store.Uri)app" $repository -Prune @p)
        ($first | Where-Object Action -eq 'Copied').Tag | Should -Be @('v1', 'v2')
        ($first | Where-Object Action -eq 'Removed').Tag | Should -Be 'gone'
        Get-TestRegistryDigest "${repository}:v2" | Should -Be (Get-S3loManifest "$($store.Uri)app:v2" @p).Digest
        { Invoke-TestProgram skopeo @('inspect', '--raw', '--tls-verify=false', "docker://${repository}:gone") } | Should -Throw

        @(Sync-S3loImage "$($store.Uri)app" $repository @p).Action | Should -Be @('Unchanged', 'Unchanged')
    }

    It 'refuses a source or destination with a tag: -Tag selects the tags' {
        { Sync-S3loImage "$($Registry.Host)/mirror/x:v1" 'local://./nowhere/app' -ErrorAction Stop } |
            Should -Throw -ErrorId 'InvalidReference,S3lo.PowerShell.Commands.SyncS3loImageCommand'
        { Sync-S3loImage "$($Registry.Host)/mirror/x" 'local://./nowhere/app:v1' -ErrorAction Stop } |
            Should -Throw -ErrorId 'InvalidReference,S3lo.PowerShell.Commands.SyncS3loImageCommand'
    }
}
