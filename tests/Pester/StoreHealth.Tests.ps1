# Store health (Test-S3loStore) on stores broken on purpose, and statistics (Measure-S3loStore) checked against sums
# computed from the stored objects themselves, against a local store, the S3 server and Azurite.
BeforeDiscovery {
    $script:StoreKinds = @(@{ Kind = 'local' }, @{ Kind = 's3' }, @{ Kind = 'az' })
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'StoreHelpers.psm1') -Force
    $script:Suite = Initialize-TestSuite -Name health -S3 -Azure
    $script:Work = $Suite.Work
    $script:Server = $Suite.Server
    $script:Layout = Join-Path $Work 'layout'
    $null = New-TestImage -Path $Layout -Layers 2 -LayerSize 8KB -Tag small
    # A layer of 1 MiB or more is stored chunked.
    $null = New-TestImage -Path $Layout -Layers 1 -LayerSize 2MB -Tag big

    function Remove-TestStoreObject($Store, [string] $Key) {
        if ($Store.Kind -eq 'local') { Remove-Item -LiteralPath (Join-Path $Store.Root $Key); return }
        if ($Store.Kind -eq 'az') { $null = (Get-TestAzureContainerClient -Server $Store.Server -Container $Store.Root).GetBlobClient($Key).Delete(); return }
        $response = Invoke-TestS3Request -Server $Store.Server -Method DELETE -Path "/$($Store.Root)/$Key"
        if ($response.StatusCode -ne 204) { throw "DELETE $Key answered $($response.StatusCode)" }
    }

    # Keys with their sizes and, for a local store, modification times: what a check must leave as it found.
    function Get-TestStoreState($Store) {
        if ($Store.Kind -eq 'local') {
            return @(Get-ChildItem -LiteralPath $Store.Root -Recurse -File | ForEach-Object { '{0} {1} {2:o}' -f $_.FullName, $_.Length, $_.LastWriteTimeUtc } | Sort-Object)
        }
        @(Get-TestStoreKey $Store | ForEach-Object { '{0} {1}' -f $_, (Get-TestStoreObject $Store $_).Length })
    }

    # A store with two tags sharing all their blobs (app:v1, app:v2) and one whose layer is stored chunked (web:big).
    function New-HealthTestStore([string] $Kind) {
        $store = New-TestStore -Kind $Kind -Root $Work -Server $Server
        $p = $store.Params
        $null = Push-S3loImage $Layout "$($store.Uri)app:v1" -SourceTag small @p
        $null = Push-S3loImage $Layout "$($store.Uri)app:v2" -SourceTag small @p
        $null = Push-S3loImage $Layout "$($store.Uri)web:big" -SourceTag big @p
        $store
    }

    function Get-TagBlobKey([string] $Tag) {
        Get-TestBlobDigest (Get-TestLayoutManifest -Layout $Layout -Tag $Tag) | ForEach-Object { "blobs/sha256/$($_.Substring(7))" }
    }

    function Test-Unchanged($Store, [scriptblock] $Check) {
        $before = Get-TestStoreState $Store
        $result = & $Check
        Get-TestStoreState $Store | Should -Be $before
        $result
    }
}

AfterAll {
    Complete-TestSuite $script:Suite
}

Describe 'Test-S3loStore on a <Kind> store' -ForEach $StoreKinds {
    BeforeEach {
        $store = New-HealthTestStore $Kind
        $p = $store.Params
    }

    It 'finds no problem in a healthy store, also reading every object, and says $true' {
        Test-Unchanged $store { Test-S3loStore $store.Uri @p } | Should -BeNullOrEmpty
        Test-Unchanged $store { Test-S3loStore $store.Uri -Deep @p } | Should -BeNullOrEmpty
        Test-S3loStore $store.Uri -Quiet @p | Should -BeExactly $true
    }

    It 'reports a deleted blob as missing from each tag that uses it' {
        $layer = (Get-TagBlobKey small)[2]
        Remove-TestStoreObject $store $layer

        $problems = Test-Unchanged $store { Test-S3loStore $store.Uri @p }

        @($problems).Count | Should -Be 2
        $problems.Reference | Sort-Object | Should -Be @('app:v1', 'app:v2')
        $problems | ForEach-Object { $_.Severity, $_.Kind, $_.Key -join ' ' } | Should -Be @("Error MissingBlob $layer", "Error MissingBlob $layer")
        Test-S3loStore $store.Uri -Quiet @p | Should -BeExactly $false
    }

    It 'reports a deleted chunk' {
        $chunks = @(Get-TestStoreKey $store -Prefix 'chunks/')
        $chunks.Count | Should -BeGreaterThan 0 -Because 'the big layer is stored chunked'
        Remove-TestStoreObject $store $chunks[0]

        $problem = Test-Unchanged $store { Test-S3loStore $store.Uri @p }

        @($problem).Count | Should -Be 1
        $problem.Severity, $problem.Kind, $problem.Reference, $problem.Key -join ' ' | Should -Be "Error MissingChunk web:big $($chunks[0])"
    }

    It 'finds a corrupted blob of the right size only with -Deep, once' {
        $layer = (Get-TagBlobKey small)[1]
        $bytes = Get-TestStoreObject $store $layer
        $bytes[10] = $bytes[10] -bxor 0xff
        Set-TestStoreObject $store $layer $bytes

        Test-Unchanged $store { Test-S3loStore $store.Uri @p } | Should -BeNullOrEmpty
        $problem = Test-Unchanged $store { Test-S3loStore $store.Uri -Deep @p }

        @($problem).Count | Should -Be 1
        $problem.Severity, $problem.Kind, $problem.Key -join ' ' | Should -Be "Error DigestMismatch $layer"
        $problem.Reference | Should -BeIn @('app:v1', 'app:v2')
        Test-S3loStore $store.Uri -Quiet @p | Should -BeExactly $true
        Test-S3loStore $store.Uri -Quiet -Deep @p | Should -BeExactly $false
    }

    It 'reports a manifest that does not parse' {
        Set-TestStoreObject $store 'manifests/broken/v1/manifest.json' ([Text.Encoding]::UTF8.GetBytes('not json'))

        $problem = Test-Unchanged $store { Test-S3loStore $store.Uri @p }

        @($problem).Count | Should -Be 1
        $problem.Severity, $problem.Kind, $problem.Reference, $problem.Key -join ' ' | Should -Be 'Error InvalidManifest broken:v1 manifests/broken/v1/manifest.json'
    }

    It 'reports a malformed s3lo.yaml' {
        Set-TestStoreObject $store 's3lo.yaml' ([Text.Encoding]::UTF8.GetBytes("default:`n  lifecycle:`n    keep_last: many`n"))

        $problem = Test-Unchanged $store { Test-S3loStore $store.Uri @p }

        @($problem).Count | Should -Be 1
        $problem.Severity, $problem.Kind, $problem.Reference, $problem.Key -join ' ' | Should -Be 'Error InvalidPolicy  s3lo.yaml'
        $problem.Message | Should -Match 'line 3'
    }

    It 'checks only the images and tags asked for' {
        Remove-TestStoreObject $store (Get-TagBlobKey small)[0]

        Test-S3loStore $store.Uri -Name web @p | Should -BeNullOrEmpty
        (Test-S3loStore $store.Uri -Name 'a*' -Tag v2 @p).Reference | Should -Be 'app:v2'
    }

    It 'stops with StoreNotFound for a store that does not exist, also with -Quiet' {
        $missing = switch ($Kind) { 'local' { Join-Path $Work 'no-such-store' } 's3' { 's3://no-such-bucket-health/' } 'az' { 'az://no-such-container-health/' } }
        { Test-S3loStore $missing -Quiet @p } | Should -Throw -ErrorId 'StoreNotFound,S3lo.PowerShell.Commands.TestS3loStoreCommand'
        { Measure-S3loStore $missing @p } | Should -Throw -ErrorId 'StoreNotFound,S3lo.PowerShell.Commands.MeasureS3loStoreCommand'
    }
}

Describe 'Measure-S3loStore on a <Kind> store' -ForEach $StoreKinds {
    BeforeAll {
        $store = New-HealthTestStore $Kind
        $p = $store.Params

        # The figures, from the stored objects: each tag's config and layer sizes from its manifest, and the
        # sizes of the objects under blobs/ and chunks/ and of everything else.
        $script:Logical = @{}
        $script:TagsOfLayer = @{}
        foreach ($key in Get-TestStoreKey $store -Prefix 'manifests/' | Where-Object { $_ -like '*/manifest.json' }) {
            $parts = $key.Split('/')
            $tag = '{0}:{1}' -f ($parts[1..($parts.Count - 3)] -join '/'), $parts[-2]
            $manifest = [Text.Encoding]::UTF8.GetString((Get-TestStoreObject $store $key)) | ConvertFrom-Json
            $Logical[$tag] = $manifest.config.size + ($manifest.layers | Measure-Object size -Sum).Sum
            foreach ($layer in $manifest.layers) { $TagsOfLayer[$layer.digest] = @($TagsOfLayer[$layer.digest]) + $tag | Where-Object { $_ } }
        }
        $script:Stored = 0
        $script:Metadata = 0
        foreach ($key in Get-TestStoreKey $store) {
            $size = (Get-TestStoreObject $store $key).Length
            if ($key -like 'blobs/*' -or $key -like 'chunks/*') { $Stored += $size } else { $Metadata += $size }
        }
        $script:LogicalTotal = ($Logical.Values | Measure-Object -Sum).Sum
    }

    It 'adds up what the tags reference and what is stored' {
        $s = Test-Unchanged $store { Measure-S3loStore $store.Uri -EcrPricePerGB 1024 -S3StandardPricePerGB 2048 -AzureCoolPricePerGB 512 -AzureHotPricePerGB 4096 @p }

        $s.Tags, $s.Images | Should -Be @(3, 2)
        $s.LogicalBytes | Should -Be $LogicalTotal
        $s.StoredBytes | Should -Be $Stored
        $s.MetadataBytes | Should -Be $Metadata
        $s.BytesSaved | Should -Be ($LogicalTotal - $Stored)
        $s.DedupRatio | Should -Be ([Math]::Round($LogicalTotal / $Stored, 2))
        $s.Objects.Manifests | Should -Be 3
        $s.Objects.Chunks | Should -Be (Get-TestStoreKey $store -Prefix 'chunks/').Count
        $s.Objects.Recipes | Should -Be 1
        # A price of 1024 $/GB is one dollar per MiB.
        [Math]::Round($s.NoDedupRegistryMonthlyCost, 4) | Should -Be ([Math]::Round([decimal]$LogicalTotal / 1MB, 4))
        $expected = if ($Kind -eq 'az') { [decimal]$Stored / 2MB + [decimal]$Metadata * 4 / 1MB } else { ([decimal]$Stored + $Metadata) * 2 / 1MB }
        [Math]::Round($s.MonthlyCost, 4) | Should -Be ([Math]::Round($expected, 4))
    }

    It 'gives one row per image with -ByImage' {
        $rows = Measure-S3loStore $store.Uri -ByImage @p
        $rows.Name | Should -Be @('app', 'web')
        $app = $rows | Where-Object Name -eq app
        $app.Tags, $app.LogicalBytes, $app.ReferencedBytes, $app.ExclusiveBytes | Should -Be @(2, ($Logical['app:v1'] * 2), $Logical['app:v1'], $Logical['app:v1'])
        ($rows | Where-Object Name -eq web).LogicalBytes | Should -Be $Logical['web:big']
    }

    It 'lists the layers several tags share, with those tags, with -Layers' {
        $shared = @($TagsOfLayer.GetEnumerator() | Where-Object { @($_.Value).Count -gt 1 })
        $shared.Count | Should -Be 2
        $layers = Measure-S3loStore $store.Uri -Layers @p
        $layers.Digest | Sort-Object | Should -Be ($shared.Key | Sort-Object)
        $layers | ForEach-Object { $_.Tags -join ',' | Should -Be 'app:v1,app:v2' }
        Measure-S3loStore $store.Uri -Layers @p | Out-String | Should -Match 'app:v1, app:v2'
    }
}
