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

    It 'reports a daemon that cannot be reached as DockerUnreachable' {
        $env:DOCKER_HOST = "unix://$Work/no-such.sock"
        try {
            { Push-S3loImage -Image localhost/app:v1 "$($store.Uri)app:v1" -ErrorAction Stop } |
                Should -Throw -ErrorId 'DockerUnreachable,S3lo.PowerShell.Commands.PushS3loImageCommand'
        } finally { $env:DOCKER_HOST = $Daemon.Socket }
    }
}
