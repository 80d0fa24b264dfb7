# Push-S3loImage -Chunked / -Chunked:$false and Copy-S3loImage -Chunked: what the store holds, what the result and its
# format view report, and the warning that the digest changed.
BeforeDiscovery {
    $script:StoreKinds = @(@{ Kind = 'local' }, @{ Kind = 's3' }, @{ Kind = 'az' })
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'StoreHelpers.psm1') -Force
    $script:Suite = Initialize-TestSuite -Name chunked -S3 -Azure
    $script:Work = $Suite.Work
    # Two layers of 2 MB of random bytes: each at least a chunk's minimum (1 MiB) uncompressed.
    $script:Layout = New-TestImage -Path (Join-Path $Work 'layout') -Layers 2 -LayerSize 2MB -Tag v1
    $script:Source = Get-TestLayoutManifest -Layout $Layout -Tag v1
    $script:SourceDigest = Get-TestSha256 ([Text.Encoding]::UTF8.GetBytes($Source))
}

AfterAll {
    Complete-TestSuite $script:Suite
}

Describe 'Chunked layers through the cmdlets' {
    BeforeEach {
        $store = New-TestStore -Kind local -Root $Work
    }

    It 'Push-S3loImage stores layers chunked by default and reports the chunks, shown in its format view' {
        $result = Push-S3loImage $Layout "$($store.Uri)app:v1"
        $keys = Get-TestStoreKey $store
        $chunks = @($keys | Where-Object { $_ -like 'chunks/sha256/*' })
        $result.ChunksUploaded | Should -Be $chunks.Count
        $result.ChunksUploaded | Should -BeGreaterOrEqual 2
        $result.ChunksReused | Should -Be 0
        $result.BytesBeforeCompression | Should -BeGreaterThan (4MB)
        $result.BytesAfterCompression | Should -Be (($chunks | ForEach-Object { (Get-TestStoreObject $store $_).Length } | Measure-Object -Sum).Sum)
        $manifest = [Text.Encoding]::UTF8.GetString((Get-TestStoreObject $store 'manifests/app/v1/manifest.json')) | ConvertFrom-Json
        $manifest.layers.mediaType | Should -Be @('application/vnd.oci.image.layer.v1.tar+zstd', 'application/vnd.oci.image.layer.v1.tar+zstd')
        $result.Digest | Should -Not -Be $SourceDigest

        $shown = $result | Format-Table | Out-String -Width 300
        $shown | Should -Match "Chunks"
        $shown | Should -Match "$($result.ChunksUploaded) new, 0 reused"

        $again = Push-S3loImage $Layout "$($store.Uri)app:v2"
        ($again.ChunksUploaded, $again.ChunksReused) | Should -Be @(0, $result.ChunksUploaded)
        $again | Format-Table | Out-String -Width 300 | Should -Match "0 new, $($result.ChunksUploaded) reused"
    }

    It 'Push-S3loImage -Chunked:$false stores the layers whole, the digest kept, and shows no chunks' {
        $result = Push-S3loImage $Layout "$($store.Uri)app:v1" -Chunked:$false
        $result.Digest | Should -Be $SourceDigest
        ($result.ChunksUploaded, $result.ChunksReused, $result.BytesBeforeCompression) | Should -Be @(0, 0, 0)
        Get-TestStoreKey $store | Where-Object { $_ -like 'chunks/*' } | Should -BeNullOrEmpty
        foreach ($digest in Get-TestBlobDigest $Source) {
            Get-TestStoreKey $store | Should -Contain "blobs/sha256/$($digest.Substring(7))"
        }
        $result | Format-Table | Out-String -Width 300 | Should -Not -Match 'reused'
    }

    It 'Copy-S3loImage -Chunked converts whole layers and warns that the digest changes; without it the digest is kept' {
        $whole = New-TestStore -Kind local -Root $Work
        $null = Push-S3loImage $Layout "$($whole.Uri)app:v1" -Chunked:$false

        $kept = Copy-S3loImage "$($whole.Uri)app:v1" "$($store.Uri)app:kept" -WarningVariable keptWarnings 3>$null
        $kept.Digest | Should -Be $SourceDigest
        $keptWarnings | Should -BeNullOrEmpty

        # Into a store without the whole layers: one holding them already reuses them as they are.
        $fresh = New-TestStore -Kind local -Root $Work
        $converted = Copy-S3loImage "$($whole.Uri)app:v1" "$($fresh.Uri)app:chunked" -Chunked -WarningVariable warnings 3>$null
        $converted.Digest | Should -Not -Be $SourceDigest
        $converted.ChunksUploaded | Should -BeGreaterOrEqual 2
        @($warnings).Count | Should -Be 1
        "$($warnings[0])" | Should -Match 'chunked'
        "$($warnings[0])" | Should -Match ([regex]::Escape($converted.Digest))
        $manifest = [Text.Encoding]::UTF8.GetString((Get-TestStoreObject $fresh 'manifests/app/chunked/manifest.json')) | ConvertFrom-Json
        $manifest.layers.mediaType | Should -Be @('application/vnd.oci.image.layer.v1.tar+zstd', 'application/vnd.oci.image.layer.v1.tar+zstd')
    }
}

Describe 'An unchanged push again to a <Kind> store' -ForEach $StoreKinds {
    BeforeAll {
        $store = New-TestStore -Kind $Kind -Root $Work -Server $Suite.Server
        $p = $store.Params
        $service = @{ local = 'local'; s3 = 'S3'; az = 'Azure' }[$Kind]
        # A touch is the file's time set in a local store (not a request), HEAD and a self-copy on S3, the properties read
        # and the metadata written again on Azure: two requests; touching the same key again is the conditional write alone.
        $touch = @{ local = 0; s3 = 2; az = 2 }[$Kind]
        $again = @{ local = 0; s3 = 1; az = 1 }[$Kind]
        $first = Push-S3loImage $Layout "$($store.Uri)app:v1" @p
        function Get-Request($Records) {
            @($Records | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] } | ForEach-Object Message |
                Where-Object { $_ -match "^$service (GET|PUT|HEAD|POST|LIST|DELETE) " })
        }
    }

    # docs/format.md, "What an unchanged push costs": the policy; per layer its layers/ entry and its recipe touched before
    # the upload and after the publish; the config touched likewise; then the tag's writes. The platform stored with the
    # tag (listing metadata) comes from the pushed image's own config, not from a read of the store.
    It 'sends the policy read, per layer the entry and two recipe touches, two config touches and the tag writes; under a new tag' {
        $records = Push-S3loImage $Layout "$($store.Uri)app:v2" -Verbose @p 4>&1
        $result = @($records | Where-Object { $_ -isnot [System.Management.Automation.VerboseRecord] })[0]
        ($result.ChunksUploaded, $result.ChunksReused, $result.BytesUploaded) | Should -Be @(0, $first.ChunksUploaded, 0)
        $result.Digest | Should -Be $first.Digest
        $requests = Get-Request $records
        $requests | Where-Object { $_ -match 'chunks/sha256/|indexes/sha256/' } | Should -BeNullOrEmpty -Because 'no chunk or file index is asked for'
        @($requests | Where-Object { $_ -match "^$service PUT " -and $_ -notmatch 'recipes/|blobs/' }).Count | Should -Be 2 -Because 'only oci-layout and manifest.json are written'
        $requests.Count | Should -Be (1 + 2 * (1 + $touch + $again) + $touch + $again + 2) -Because ($requests -join "`n")
    }

    It 'costs the replacing write and the signature listing more under its own tag' {
        $records = Push-S3loImage $Layout "$($store.Uri)app:v1" -Verbose @p 4>&1
        $requests = Get-Request $records
        $requests | Where-Object { $_ -match 'chunks/sha256/|indexes/sha256/' } | Should -BeNullOrEmpty
        $requests.Count | Should -Be (1 + 2 * (1 + $touch + $again) + $touch + $again + 3) -Because ($requests -join "`n")
    }
}
