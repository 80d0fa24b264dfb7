# The image helpers make real images: an OCI layout with one layer per request, and archives that
# skopeo itself wrote.
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $script:Layout = New-TestImage -Path (Join-Path $TestDrive 'layout') -Layers 3 -LayerSize 64KB -Tag v1
    $index = Get-Content -Raw (Join-Path $script:Layout 'index.json') | ConvertFrom-Json
    $digest = $index.manifests[0].digest -replace '^sha256:', ''
    $script:Manifest = Get-Content -Raw (Join-Path $script:Layout "blobs/sha256/$digest") | ConvertFrom-Json
}

Describe 'New-TestImage' {
    It 'makes an OCI layout tagged v1 with 3 layers' {
        Test-Path (Join-Path $script:Layout 'oci-layout') | Should -BeTrue
        $script:Manifest.layers.Count | Should -Be 3
        $script:Manifest.layers | ForEach-Object { Test-Path (Join-Path $script:Layout "blobs/sha256/$($_.digest -replace '^sha256:', '')") | Should -BeTrue }
    }

    It 'fills each layer with LayerSize random bytes (incompressible)' {
        $script:Manifest.layers | ForEach-Object { $_.size | Should -BeGreaterThan 64KB }
    }
}

Describe 'ConvertTo-TestArchive' {
    It 'writes a <Format> named app:v1' -TestCases @(
        @{ Format = 'docker-archive'; Entry = 'manifest.json' }
        @{ Format = 'oci-archive'; Entry = 'index.json' }
    ) {
        $archive = ConvertTo-TestArchive -Layout $script:Layout -Tag v1 -Format $Format -Path (Join-Path $TestDrive "$Format.tar") -ImageName app:v1
        $entries = @(tar -tf $archive)
        $entries | Should -Contain $Entry
        (tar -xOf $archive $Entry) -join '' | Should -Match 'app:v1'
    }
}
