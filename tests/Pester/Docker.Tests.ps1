# Push-S3loImage -Image and Save-S3loImage -Docker against podman's Docker-compatible API.
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'StoreHelpers.psm1') -Force
    $script:Suite = Initialize-TestSuite -Name docker
    $script:Work = $Suite.Work
    $script:Daemon = Start-TestPodman
    $script:SavedDockerHost = $env:DOCKER_HOST
    $env:DOCKER_HOST = $Daemon.Socket
    $layout = New-TestImage -Path (Join-Path $Work 'layout') -Layers 2 -LayerSize 50KB -Tag v1
    $archive = ConvertTo-TestArchive -Layout $layout -Tag v1 -Format docker-archive -Path (Join-Path $Work 'app.tar') -ImageName 'localhost/app:v1'
    $null = Invoke-TestProgram podman ($Daemon.Podman + @('load', '-i', $archive))
    function Get-PodmanLayers([string] $Name) {
        (Invoke-TestProgram podman ($Daemon.Podman + @('image', 'inspect', $Name)) | Out-String | ConvertFrom-Json)[0].RootFS.Layers
    }
    $script:Layers = Get-PodmanLayers 'localhost/app:v1'

    # A manifest list of the host's platform and another, each image in podman's storage.
    $script:HostArch = if ([Runtime.InteropServices.RuntimeInformation]::OSArchitecture -eq 'Arm64') { 'arm64' } else { 'amd64' }
    $script:OtherArch = if ($HostArch -eq 'arm64') { 'amd64' } else { 'arm64' }
    $null = Invoke-TestProgram podman ($Daemon.Podman + @('manifest', 'create', 'localhost/multi:v1'))
    $script:MultiLayers = @{}
    foreach ($arch in $HostArch, $OtherArch) {
        $part = New-TestImage -Path (Join-Path $Work "multi-$arch") -Layers 1 -LayerSize 20KB -Tag v1 -Architecture $arch
        $partArchive = ConvertTo-TestArchive -Layout $part -Tag v1 -Format docker-archive -Path (Join-Path $Work "multi-$arch.tar") -ImageName "localhost/multi-${arch}:v1"
        $null = Invoke-TestProgram podman ($Daemon.Podman + @('load', '-i', $partArchive))
        $null = Invoke-TestProgram podman ($Daemon.Podman + @('manifest', 'add', 'localhost/multi:v1', "containers-storage:localhost/multi-${arch}:v1"))
        $MultiLayers[$arch] = Get-PodmanLayers "localhost/multi-${arch}:v1"
    }
    function Get-StoredDiffId([string] $Reference, $Store) {
        $config = (Get-S3loManifest $Reference).Config.Digest
        ([Text.Encoding]::UTF8.GetString((Get-TestStoreObject $Store "blobs/sha256/$($config.Substring(7))")) | ConvertFrom-Json).rootfs.diff_ids
    }
}

AfterAll {
    $env:DOCKER_HOST = $script:SavedDockerHost
    Stop-TestPodman $script:Daemon
    Complete-TestSuite $script:Suite
}

Describe 'Docker daemon' {
    BeforeEach { $store = New-TestStore -Kind local -Root $Work }

    It 'pushes an image from the daemon (DOCKER_HOST) into a store' {
        $result = Push-S3loImage -Image localhost/app:v1 "$($store.Uri)app:v1"
        $result.BlobsUploaded | Should -Be 3
        $config = (Get-S3loManifest "$($store.Uri)app:v1").Config.Digest
        $stored = [Text.Encoding]::UTF8.GetString((Get-TestStoreObject $store "blobs/sha256/$($config.Substring(7))")) | ConvertFrom-Json
        $stored.rootfs.diff_ids | Should -Be $Layers
        (Get-S3loImage "$($store.Uri)app:v1").Platforms | Should -Be @('linux/amd64')
    }

    It 'loads an image from a store into the daemon with -Docker, under -ImageName' {
        $null = Push-S3loImage -Image localhost/app:v1 -Store $store.Root -Name app -Tag v1
        $result = Save-S3loImage "$($store.Uri)app:v1" -Docker -ImageName localhost/copy:v1
        $result.ImageName | Should -Be 'localhost/copy:v1'
        Get-PodmanLayers 'localhost/copy:v1' | Should -Be $Layers
    }

    It 'asks for either -Path or -Docker' {
        $null = Push-S3loImage -Image localhost/app:v1 "$($store.Uri)app:v1"
        { Save-S3loImage "$($store.Uri)app:v1" } | Should -Throw -ErrorId 'InvalidArgument,S3lo.PowerShell.Commands.SaveS3loImageCommand'
    }

    It 'reports an image the daemon lacks as ImageNotFound, another platform as PlatformNotFound' {
        { Push-S3loImage -Image localhost/none:v1 "$($store.Uri)none:v1" -ErrorAction Stop } |
            Should -Throw -ErrorId 'ImageNotFound,S3lo.PowerShell.Commands.PushS3loImageCommand'
        { Push-S3loImage -Image localhost/app:v1 "$($store.Uri)app:arm" -Platform linux/arm64 -ErrorAction Stop } |
            Should -Throw -ErrorId 'PlatformNotFound,S3lo.PowerShell.Commands.PushS3loImageCommand'
        Get-TestStoreKey $store -Prefix 'manifests/' | Should -BeNullOrEmpty
    }

    It 'pushes the host platform of a multi-platform image and names the others in a warning' {
        $result = Push-S3loImage -Image localhost/multi:v1 "$($store.Uri)multi:v1" -WarningVariable warned 3>$null
        $result.Reference | Should -Be "$($store.Uri)multi:v1"
        Get-StoredDiffId "$($store.Uri)multi:v1" $store | Should -Be $MultiLayers[$HostArch]
        (Get-S3loImage "$($store.Uri)multi:v1").Platforms | Should -Be @("linux/$HostArch")
        "$warned" | Should -BeLike "*linux/$HostArch, linux/$OtherArch*pushing linux/$HostArch*-Platform*"
    }

    It 'pushes the platform -Platform names from a multi-platform image, without a warning' {
        $null = Push-S3loImage -Image localhost/multi:v1 "$($store.Uri)multi:other" -Platform "linux/$OtherArch" -WarningVariable warned
        Get-StoredDiffId "$($store.Uri)multi:other" $store | Should -Be $MultiLayers[$OtherArch]
        (Get-S3loImage "$($store.Uri)multi:other").Platforms | Should -Be @("linux/$OtherArch")
        $warned | Should -BeNullOrEmpty
        { Push-S3loImage -Image localhost/multi:v1 "$($store.Uri)multi:ppc" -Platform linux/ppc64le -ErrorAction Stop } |
            Should -Throw -ErrorId 'PlatformNotFound,S3lo.PowerShell.Commands.PushS3loImageCommand'
    }

    It 'reports a daemon that cannot be reached as DockerUnreachable' {
        $env:DOCKER_HOST = "unix://$Work/no-such.sock"
        try {
            { Push-S3loImage -Image localhost/app:v1 "$($store.Uri)app:v1" -ErrorAction Stop } |
                Should -Throw -ErrorId 'DockerUnreachable,S3lo.PowerShell.Commands.PushS3loImageCommand'
        } finally { $env:DOCKER_HOST = $Daemon.Socket }
    }
}
