# Save-S3loImage: every output format checked with skopeo and podman; failures leave nothing behind.
BeforeDiscovery {
    $script:StoreKinds = @(@{ Kind = 'local' }, @{ Kind = 's3' }, @{ Kind = 'az' })
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'StoreHelpers.psm1') -Force
    $script:Suite = Initialize-TestSuite -Name save -S3 -Azure
    $script:Work = $Suite.Work
    $script:Server = $Suite.Server
    $script:Layout = New-TestImage -Path (Join-Path $Work 'layout') -Layers 2 -LayerSize 200KB -Tag amd
    $null = New-TestImage -Path $Layout -Layers 1 -LayerSize 50KB -Tag arm
    $script:IndexDigest = New-TestIndexLayout -Layout $Layout -Platforms ([ordered]@{ amd = 'linux/amd64'; arm = 'linux/arm64' }) -Tag multi
    $script:AmdManifest = Get-TestLayoutManifest -Layout $Layout -Tag amd
    $script:ArmManifest = Get-TestLayoutManifest -Layout $Layout -Tag arm
    $script:PodmanStorage = Start-TestPodman -NoService
    $script:Podman = $PodmanStorage.Podman
}

AfterAll {
    Complete-TestSuite $script:Suite
    Stop-TestPodman $script:PodmanStorage
}

Describe 'Save-S3loImage from a <Kind> store' -ForEach $StoreKinds {
    BeforeAll {
        $store = New-TestStore -Kind $Kind -Root $Work -Server $Server
        $p = $store.Params
        $null = Push-S3loImage $Layout "$($store.Uri)app:v1" -SourceTag amd @p
        $null = Push-S3loImage $Layout "$($store.Uri)app:multi" -SourceTag multi @p
        $out = Join-Path $Work "out-$Kind"
        $null = New-Item -ItemType Directory $out
    }

    It 'saves an OCI layout that skopeo reads and copies, with the manifest bytes unchanged' {
        $result = Save-S3loImage "$($store.Uri)app:v1" -Path (Join-Path $out 'layout') -Format OciLayout @p
        $result.Format | Should -Be 'OciLayout'
        $result.Digest | Should -Be (Get-TestSha256 ([Text.Encoding]::UTF8.GetBytes($AmdManifest)))
        $result.Path | Should -Be (Join-Path $out 'layout')
        (Invoke-TestProgram skopeo @('inspect', '--raw', "oci:$(Join-Path $out 'layout'):v1") | Out-String).Trim() | Should -Be $AmdManifest.Trim()
        $null = Invoke-TestProgram skopeo @('--insecure-policy', 'copy', '--quiet', "oci:$(Join-Path $out 'layout'):v1", "oci:$(Join-Path $out 'copied'):v1")
        Test-Path (Join-Path $out 'copied/index.json') | Should -BeTrue
    }

    It 'saves an oci-archive that skopeo inspects and copies' {
        $null = Save-S3loImage "$($store.Uri)app:v1" -Path (Join-Path $out 'app-oci.tar') -Format OciArchive @p
        (Invoke-TestProgram skopeo @('inspect', '--raw', "oci-archive:$(Join-Path $out 'app-oci.tar')") | Out-String).Trim() | Should -Be $AmdManifest.Trim()
        $null = Invoke-TestProgram skopeo @('--insecure-policy', 'copy', '--quiet', "oci-archive:$(Join-Path $out 'app-oci.tar')", "oci:$(Join-Path $out 'from-archive'):x")
    }

    It 'saves a docker-archive (the default for a .tar path) that podman loads' {
        $result = Save-S3loImage "$($store.Uri)app:v1" (Join-Path $out 'app.tar') @p
        $result.Format | Should -Be 'DockerArchive'
        $loaded = Invoke-TestProgram podman ($Podman + @('load', '-i', (Join-Path $out 'app.tar'))) | Out-String
        $loaded | Should -Match 'app:v1'
        $images = Invoke-TestProgram podman ($Podman + @('images', '--format', '{{.Repository}}:{{.Tag}}')) | Out-String
        $images | Should -Match '(^|/)app:v1'
        $null = Invoke-TestProgram podman ($Podman + @('rmi', '-a', '-f'))
    }

    It 'takes the host platform from an index by default, and -Platform picks another' {
        $default = Save-S3loImage "$($store.Uri)app:multi" -Path (Join-Path $out 'multi-default') @p
        $default.Platform | Should -Be 'linux/amd64'
        $default.Digest | Should -Be (Get-TestSha256 ([Text.Encoding]::UTF8.GetBytes($AmdManifest)))
        $arm = Save-S3loImage "$($store.Uri)app:multi" -Path (Join-Path $out 'multi-arm') -Platform linux/arm64 @p
        $arm.Platform | Should -Be 'linux/arm64'
        (Invoke-TestProgram skopeo @('inspect', '--raw', "oci:$(Join-Path $out 'multi-arm'):multi") | Out-String).Trim() | Should -Be $ArmManifest.Trim()
    }

    It 'reports a platform the index does not offer as PlatformNotFound and writes nothing' {
        { Save-S3loImage "$($store.Uri)app:multi" -Path (Join-Path $out 'none') -Platform linux/s390x @p -ErrorAction Stop } |
            Should -Throw -ErrorId 'PlatformNotFound,S3lo.PowerShell.Commands.SaveS3loImageCommand'
        Test-Path (Join-Path $out 'none') | Should -BeFalse
    }

    It 'saves and copies an image whose layers the s3lo tool stored in chunks' {
        $chunked = Set-TestChunkedImage -Store $store -Layout $Layout -Tag amd -Name chunked -ImageTag v1
        (Get-S3loImage "$($store.Uri)chunked:v1" @p).Digest | Should -Be $chunked.Digest

        $out = Join-Path $Work "chunked-$Kind"
        $result = Save-S3loImage "$($store.Uri)chunked:v1" -Path $out -Format OciLayout @p
        $result.Digest | Should -Be $chunked.Digest
        foreach ($layer in $chunked.Layers) { Get-TestSha256 ([IO.File]::ReadAllBytes("$out/blobs/sha256/$($layer.Substring(7))")) | Should -Be $layer }
        $null = Invoke-TestProgram skopeo @('--insecure-policy', 'copy', '--dest-compress-format', 'gzip', "oci:${out}:v1", "oci:$out-gzip:v1")

        $copy = Copy-S3loImage "$($store.Uri)chunked:v1" "$($store.Uri)chunked:v2" @p
        $copy.BlobsUploaded | Should -Be 0
        foreach ($layer in $chunked.Layers) { Get-TestStoreKey $store -Prefix "blobs/sha256/$($layer.Substring(7))" | Should -BeNullOrEmpty }
    }

    It 'takes images from Get-S3loImage through the pipeline' {
        $result = Get-S3loImage $store.Uri -Name app -Tag v1 @p | Save-S3loImage -Path (Join-Path $out 'piped')
        $result.Reference | Should -Be "$($store.Uri)app:v1"
        Test-Path (Join-Path $out 'piped/index.json') | Should -BeTrue
    }

    It 'refuses to overwrite an existing output unless -Force' {
        $target = Join-Path $out 'exists.tar'
        Set-Content -LiteralPath $target -Value 'keep me'
        { Save-S3loImage "$($store.Uri)app:v1" -Path $target @p -ErrorAction Stop } | Should -Throw -ErrorId 'OutputExists,S3lo.PowerShell.Commands.SaveS3loImageCommand'
        Get-Content -LiteralPath $target | Should -Be 'keep me'
        $null = Save-S3loImage "$($store.Uri)app:v1" -Path $target -Force @p
        (Get-Item $target).Length | Should -BeGreaterThan 200KB
    }

    It 'reports a missing image as ImageNotFound' {
        { Save-S3loImage "$($store.Uri)app:nope" -Path (Join-Path $out 'nope') @p -ErrorAction Stop } |
            Should -Throw -ErrorId 'ImageNotFound,S3lo.PowerShell.Commands.SaveS3loImageCommand'
    }
}

Describe 'Save-S3loImage refuses a stored blob that does not match its digest (<Kind>)' -ForEach $StoreKinds {
    It 'fails with DigestMismatch and leaves no output in <Format>' -ForEach @(@{ Format = 'OciLayout' }, @{ Format = 'OciArchive' }, @{ Format = 'DockerArchive' }) {
        $store = New-TestStore -Kind $Kind -Root $Work -Server $Server
        $p = $store.Params
        $pushed = Push-S3loImage $Layout "$($store.Uri)app:v1" -SourceTag amd @p
        $layer = (($AmdManifest | ConvertFrom-Json).layers | Select-Object -Last 1).digest.Substring(7)
        $bytes = Get-TestStoreObject $store "blobs/sha256/$layer"
        $bytes[100] = $bytes[100] -bxor 0xff
        Set-TestStoreObject $store "blobs/sha256/$layer" $bytes
        $outDir = Join-Path $Work "corrupt-$Kind-$Format"
        $null = New-Item -ItemType Directory $outDir
        { Save-S3loImage $pushed.Reference -Path (Join-Path $outDir 'image') -Format $Format @p -ErrorAction Stop } |
            Should -Throw -ErrorId 'DigestMismatch,S3lo.PowerShell.Commands.SaveS3loImageCommand'
        @(Get-ChildItem -Force -LiteralPath $outDir) | Should -BeNullOrEmpty -Because 'the output and its temporary files are gone'
    }
}
