# Multi-platform images made with podman manifest: pushed whole, listed, inspected and saved per platform.
BeforeDiscovery {
    $script:StoreKinds = @(@{ Kind = 'local' }, @{ Kind = 's3' }, @{ Kind = 'az' })
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'StoreHelpers.psm1') -Force
    $script:Suite = Initialize-TestSuite -Name multi -S3 -Azure
    $script:Work = $Suite.Work
    $script:Server = $Suite.Server
    $images = New-TestImage -Path (Join-Path $Work 'images') -Layers 1 -LayerSize 30KB -Tag amd
    $null = New-TestImage -Path $images -Layers 1 -LayerSize 20KB -Tag arm
    $script:PodmanStorage = Start-TestPodman -NoService
    $podman = $PodmanStorage.Podman
    $null = Invoke-TestProgram podman ($podman + @('manifest', 'create', 'localhost/multi:v1'))
    $null = Invoke-TestProgram podman ($podman + @('manifest', 'add', '--os', 'linux', '--arch', 'amd64', 'localhost/multi:v1', "oci:${images}:amd"))
    $null = Invoke-TestProgram podman ($podman + @('manifest', 'add', '--os', 'linux', '--arch', 'arm64', '--variant', 'v8', 'localhost/multi:v1', "oci:${images}:arm"))
    $script:Layout = Join-Path $Work 'multi'
    $null = Invoke-TestProgram podman ($podman + @('manifest', 'push', '--all', '--format', 'oci', 'localhost/multi:v1', "oci:${Layout}:v1"))
    $script:IndexJson = (Invoke-TestProgram skopeo @('inspect', '--raw', "oci:${Layout}:v1") | Out-String).Trim()
    $script:Index = $IndexJson | ConvertFrom-Json
}

AfterAll {
    Complete-TestSuite $script:Suite
    Stop-TestPodman $script:PodmanStorage
}

Describe 'A multi-platform image in a <Kind> store' -ForEach $StoreKinds {
    BeforeAll {
        $store = New-TestStore -Kind $Kind -Root $Work -Server $Server
        $p = $store.Params
        $pushed = Push-S3loImage $Layout "$($store.Uri)multi:v1" @p
    }

    It 'stores the index verbatim as the tag and every platform manifest as a blob' {
        $pushed.MediaType | Should -Be 'application/vnd.oci.image.index.v1+json'
        [Text.Encoding]::UTF8.GetString((Get-TestStoreObject $store 'manifests/multi/v1/manifest.json')).Trim() | Should -Be $IndexJson
        $keys = Get-TestStoreKey $store -Prefix 'blobs/'
        foreach ($entry in $Index.manifests) { $keys | Should -Contain "blobs/sha256/$($entry.digest.Substring(7))" }
    }

    It 'lists it as an index with its platforms' {
        $image = Get-S3loImage "$($store.Uri)multi:v1" @p
        $image.Kind | Should -Be 'Index'
        $image.Platforms | Should -Be @('linux/amd64', 'linux/arm64/v8')
    }

    It 'resolves a platform by os and architecture, the variant only when asked' {
        $arm = $Index.manifests | Where-Object { $_.platform.architecture -eq 'arm64' }
        (Get-S3loManifest "$($store.Uri)multi:v1" -Platform linux/arm64 @p).Digest | Should -Be $arm.digest
        (Get-S3loManifest "$($store.Uri)multi:v1" -Platform linux/arm64/v8 @p).Digest | Should -Be $arm.digest
        { Get-S3loManifest "$($store.Uri)multi:v1" -Platform linux/arm64/v7 @p -ErrorAction Stop } |
            Should -Throw -ErrorId 'PlatformNotFound,S3lo.PowerShell.Commands.GetS3loManifestCommand'
    }

    It 'saves the platform asked for, which skopeo reads' {
        $out = Join-Path $Work "saved-$Kind"
        $result = Save-S3loImage "$($store.Uri)multi:v1" -Path $out -Platform linux/arm64 @p
        $result.Platform | Should -Be 'linux/arm64/v8'
        $arm = $Index.manifests | Where-Object { $_.platform.architecture -eq 'arm64' }
        $result.Digest | Should -Be $arm.digest
        $saved = Invoke-TestProgram skopeo @('inspect', '--raw', "oci:${out}:v1") | Out-String
        $saved.Trim() | Should -Be ([IO.File]::ReadAllText((Join-Path $Layout "blobs/sha256/$($arm.digest.Substring(7))")).Trim())
    }
}
