# The format views: every output type has a table and a list view, tables of a long listing fit 120 columns,
# durations read as s3lo.yaml writes them and sizes in binary units, while the objects keep the raw values.
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'StoreHelpers.psm1') -Force
    $script:Suite = Initialize-TestSuite -Name views
    $script:Work = $Suite.Work
    $script:Layout = New-TestImage -Path (Join-Path $Work 'layout') -Layers 2 -LayerSize 30KB

    # A listing as a CI store holds it: names of a few path segments, date-and-commit tags, many rows, in a store
    # whose reference is as long as a bucket's (s3://ci-images/), not a test directory's.
    $script:Store = Join-Path ([IO.Path]::GetTempPath()) ('s3lo-v' + [guid]::NewGuid().ToString('N').Substring(0, 6))
    $script:StoreUri = 'local://' + $Store + '/'
    $null = New-Item -ItemType Directory -Path $Store
    Set-S3loPolicy -Store $Store -KeepLast 2 -MaxAge 36h -Confirm:$false
    $script:Names = 'platform/metrics-agent', 'payments/ledger-api', 'web/storefront', 'tools/ci-runner'
    $script:Tags = '2026.12.01-3f9c2a1b', '2026.12.02-a1b2c3d4', 'release-candidate-17', 'latest'
    $script:Pushed = foreach ($name in $Names) {
        foreach ($tag in $Tags) { Push-S3loImage -Path $Layout -Store $Store -Name $name -Tag $tag }
    }
    Set-S3loPolicy -Store $Store -Name 'web/*' -MaxAge ([timespan]::FromDays(7)) -Confirm:$false

    function Format-At120 {
        param([Parameter(ValueFromPipeline)] $InputObject, [ValidateSet('Table', 'List')] [string] $View = 'Table')
        end {
            $text = if ($View -eq 'Table') { $input | Format-Table | Out-String -Width 120 } else { $input | Format-List | Out-String -Width 120 }
            $text -split '\r?\n'
        }
    }
}

AfterAll {
    if ($script:Store) { Remove-Item -LiteralPath $script:Store, "$($script:Store)-m" -Recurse -Force -ErrorAction Ignore }
    Complete-TestSuite $script:Suite
}

Describe 'Format views' {
    It 'has a table view and a list view for every output type of every cmdlet' {
        $types = Get-Command -Module S3lo | ForEach-Object { $_.OutputType.Type } |
            Where-Object { $_ -and $_.Namespace -like 'S3lo.*' } | Sort-Object FullName -Unique
        $types.Count | Should -BeGreaterThan 10 -Because 'every cmdlet declares what it writes'
        $missing = foreach ($type in $types) {
            $controls = (Get-FormatData -TypeName $type.FullName -PowerShellVersion $PSVersionTable.PSVersion).FormatViewDefinition.Control |
                ForEach-Object { $_.GetType().Name }
            if ($controls -notcontains 'TableControl') { "$($type.FullName): no table view" }
            if ($controls -notcontains 'ListControl') { "$($type.FullName): no list view" }
        }
        $missing | Should -BeNullOrEmpty
    }

    It 'fits a long <What> table into 120 columns without dropping or cutting a column' -ForEach @(
        @{ What = 'Get-S3loImage'; Make = { Get-S3loImage -Store $Store }; Headers = 'Name', 'Tag', 'Kind', 'Size', 'LastModified', 'Digest', 'Platforms' }
        @{ What = 'Get-S3loLifecyclePlan'; Make = { Get-S3loLifecyclePlan -Store $Store }; Headers = 'Name', 'Tag', 'LastModified', 'Action', 'Reason' }
        @{ What = 'Push-S3loImage'; Make = { $Pushed }; Headers = 'Destination', 'Blobs', 'Bytes', 'Chunks', 'Digest' }
        @{ What = 'Sync-S3loImage'; Make = { Sync-S3loImage -Source ($StoreUri + $Names[3]) -Destination ('local://' + $Store + '-m/' + $Names[3]) }; Headers = 'Tag', 'Action', 'Blobs', 'Bytes', 'Digest', 'Destination' }
        @{ What = 'Get-S3loPolicy'; Make = { Get-S3loPolicy -Store $Store }; Headers = 'Scope', 'Immutable', 'KeepLast', 'MaxAge', 'KeepTags', 'Chunked' }
        @{ What = 'Get-S3loPolicy -Name'; Make = { $Names | ForEach-Object { Get-S3loPolicy -Store $Store -Name $_ } }; Headers = 'Name', 'Immutable', 'KeepLast', 'MaxAge', 'KeepTags', 'Pattern', 'Pruned' }
        @{ What = 'Get-S3loImageFile'; Make = { Get-S3loImageFile -Reference ($StoreUri + $Names[0] + ':latest') }; Headers = 'Type', 'Size', 'Mode', 'Path' }
        @{ What = 'Get-S3loManifest'; Make = { $Pushed | Select-Object -First 4 | ForEach-Object { Get-S3loManifest -Reference $_.Reference } }; Headers = 'Reference', 'Kind', 'Layers', 'Size', 'Digest' }
    ) {
        $objects = @(& $Make)
        $objects.Count | Should -BeGreaterThan 0
        $lines = $objects | Format-At120
        $headerLine = $lines | Where-Object { $_ -match "^$($Headers[0])\s" } | Select-Object -First 1
        $headerLine | Should -Not -BeNullOrEmpty
        foreach ($header in $Headers) { $headerLine | Should -Match "(^|\s)$header(\s|$)" -Because "the $header column is shown" }
        ($lines | Where-Object { $_.Contains([char]0x2026) }) | Should -BeNullOrEmpty -Because 'no cell is cut short'
        ($lines | Where-Object Length -GT 120) | Should -BeNullOrEmpty
    }

    It 'shows names and tags whole in the image table' {
        $lines = Get-S3loImage -Store $Store | Format-At120
        foreach ($name in $Names) { foreach ($tag in $Tags) { $lines | Where-Object { $_ -match "^$([regex]::Escape($name))\s+$([regex]::Escape($tag))\s" } | Should -HaveCount 1 } }
    }

    It 'shows policy durations as s3lo.yaml writes them, and keeps TimeSpans on the objects' {
        $effective = 'web/storefront', 'payments/ledger-api' | ForEach-Object { Get-S3loPolicy -Store $Store -Name $_ }
        ($effective | Where-Object Name -eq 'payments/ledger-api').MaxAge | Should -Be ([timespan]::FromHours(36))
        ($effective | Where-Object Name -eq 'web/storefront').MaxAge | Should -Be ([timespan]::FromDays(7))
        $list = $effective | Format-At120 -View List
        $list | Where-Object { $_ -match '^MaxAge\s*: 36h \(Store\)$' } | Should -HaveCount 1
        $list | Where-Object { $_ -match '^MaxAge\s*: 7d \(Pattern\)$' } | Should -HaveCount 1
        $table = $effective | Format-At120
        $table | Where-Object { $_ -match '^payments/ledger-api\s.*\s36h\s' } | Should -HaveCount 1
        ($list + $table) -match '\d\.\d\d:\d\d:\d\d|1\.12:00|7\.00:00' | Should -BeNullOrEmpty -Because 'no TimeSpan text is shown'
        $entries = Get-S3loPolicy -Store $Store
        ($entries | Where-Object Scope -eq 'web/*').MaxAge | Should -Be ([timespan]::FromDays(7))
        $entryList = $entries | Format-At120 -View List
        $entryList | Where-Object { $_ -match '^MaxAge\s*: 7d$' } | Should -HaveCount 1
        $entryList | Where-Object { $_ -match '^MaxAge\s*: 36h$' } | Should -HaveCount 1
    }

    It 'shows sizes in binary units in tables and lists, and keeps bytes on the objects' {
        $image = Get-S3loImage -Store $Store -Name $Names[0] -Tag latest
        $image.Size | Should -BeGreaterThan 60KB
        $expected = '{0:0.0} KiB' -f ($image.Size / 1KB)
        $image | Format-At120 | Where-Object { $_.Contains($expected) } | Should -HaveCount 1
        $image | Format-At120 -View List | Where-Object { $_ -match "^Size\s*: $([regex]::Escape($expected))$" } | Should -HaveCount 1
        $manifest = Get-S3loManifest -Reference $image.Reference
        $manifest | Format-At120 | Where-Object { $_.Contains(('{0:0.0} KiB' -f ($manifest.Size / 1KB))) } | Should -HaveCount 1
        $files = Get-S3loImageFile -Reference $image.Reference
        $big = $files | Where-Object Size -EQ 30KB | Select-Object -First 1
        $big | Format-At120 | Where-Object { $_ -match "^\S+\s+30\.0 KiB\s" } | Should -HaveCount 1
    }
}
