<#
.SYNOPSIS
The S3lo day in miniature, on a local directory store: push an image, push it again (nothing to
upload), list and inspect it, save it as a docker-archive and as an OCI layout, and prune by tag.

.DESCRIPTION
Needs nothing but the built module: the demo image is written here as an OCI image layout (two
layers made of generated files). Everything happens under -WorkDirectory (default: a new temporary
directory, removed at the end unless -Keep).
#>
param(
    [string] $WorkDirectory = (Join-Path ([IO.Path]::GetTempPath()) "s3lo-demo-$([guid]::NewGuid().ToString('N').Substring(0, 8))"),
    [switch] $Keep
)
$ErrorActionPreference = 'Stop'
$manifest = if ($env:S3LO_MODULE_PATH) { $env:S3LO_MODULE_PATH } else { Join-Path $PSScriptRoot '../out/S3lo/S3lo.psd1' }
$module = Import-Module $manifest -PassThru
Write-Host "S3lo $($module.Version) from $($module.ModuleBase)"

function Write-Step([string] $Text) { Write-Host "`n== $Text" -ForegroundColor Cyan }

function Write-Blob([string] $Layout, [byte[]] $Bytes) {
    $hex = [Convert]::ToHexString([Security.Cryptography.SHA256]::HashData($Bytes)).ToLowerInvariant()
    [IO.File]::WriteAllBytes((Join-Path $Layout "blobs/sha256/$hex"), $Bytes)
    "sha256:$hex"
}

function New-LayerTar([hashtable] $Files) {
    $buffer = [IO.MemoryStream]::new()
    $writer = [System.Formats.Tar.TarWriter]::new($buffer, [System.Formats.Tar.TarEntryFormat]::Pax, $true)
    foreach ($name in $Files.Keys | Sort-Object) {
        $entry = [System.Formats.Tar.PaxTarEntry]::new([System.Formats.Tar.TarEntryType]::RegularFile, $name)
        $entry.DataStream = [IO.MemoryStream]::new([byte[]]$Files[$name])
        $writer.WriteEntry($entry)
    }
    $writer.Dispose()
    $buffer.ToArray()
}

# An OCI image layout, as buildah, skopeo or BuildKit would write one, with one image per tag.
function New-DemoLayout([string] $Layout, [string[]] $Tags) {
    $Layout = $ExecutionContext.SessionState.Path.GetUnresolvedProviderPathFromPSPath($Layout)
    $null = New-Item -ItemType Directory -Force (Join-Path $Layout 'blobs/sha256')
    [IO.File]::WriteAllText((Join-Path $Layout 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}')
    $random = [Random]::new(42)
    $base = [byte[]]::new(2MB); $random.NextBytes($base)
    $baseLayer = New-LayerTar @{ 'usr/share/demo/base.bin' = $base; 'etc/os-release' = [Text.Encoding]::UTF8.GetBytes("NAME=demo`n") }
    $entries = foreach ($tag in $Tags) {
        $appLayer = New-LayerTar @{ 'app/version.txt' = [Text.Encoding]::UTF8.GetBytes("$tag`n") }
        $layers = foreach ($tar in $baseLayer, $appLayer) {
            [ordered]@{ mediaType = 'application/vnd.oci.image.layer.v1.tar'; digest = (Write-Blob $Layout $tar); size = $tar.Length }
        }
        $config = [ordered]@{
            architecture = 'amd64'; os = 'linux'
            config = [ordered]@{ Cmd = @('/bin/sh'); Labels = [ordered]@{ 'org.example.version' = $tag } }
            rootfs = [ordered]@{ type = 'layers'; diff_ids = @($layers.digest) }
        } | ConvertTo-Json -Depth 5 -Compress
        $configBytes = [Text.Encoding]::UTF8.GetBytes($config)
        $image = [ordered]@{
            schemaVersion = 2; mediaType = 'application/vnd.oci.image.manifest.v1+json'
            config = [ordered]@{ mediaType = 'application/vnd.oci.image.config.v1+json'; digest = (Write-Blob $Layout $configBytes); size = $configBytes.Length }
            layers = @($layers)
        } | ConvertTo-Json -Depth 5 -Compress
        $imageBytes = [Text.Encoding]::UTF8.GetBytes($image)
        [ordered]@{ mediaType = 'application/vnd.oci.image.manifest.v1+json'; digest = (Write-Blob $Layout $imageBytes); size = $imageBytes.Length
            annotations = [ordered]@{ 'org.opencontainers.image.ref.name' = $tag } }
    }
    [IO.File]::WriteAllText((Join-Path $Layout 'index.json'), ([ordered]@{ schemaVersion = 2; manifests = @($entries) } | ConvertTo-Json -Depth 5 -Compress))
}

$null = New-Item -ItemType Directory -Force $WorkDirectory
Push-Location $WorkDirectory
try {
    Write-Step 'An OCI layout with three builds of demo/app (v1.0, v1.1, v2.0)'
    New-DemoLayout -Layout ./build-output -Tags 'v1.0', 'v1.1', 'v2.0'
    Get-ChildItem ./build-output | Format-Table Name, Length | Out-Host

    Write-Step 'Push-S3loImage ./build-output -Store ./images -Name demo/app -Tag v1.0 -SourceTag v1.0 (a new store in ./images)'
    Push-S3loImage ./build-output -Store ./images -Name demo/app -Tag v1.0 -SourceTag v1.0 | Out-Host

    Write-Step 'The same image again, by reference: every blob is already there, nothing is uploaded'
    Push-S3loImage ./build-output local://./images/demo/app:v1.0 -SourceTag v1.0 | Out-Host

    Write-Step 'The other builds share the base layer: only their own layer and config go up'
    'v1.1', 'v2.0' | ForEach-Object { Push-S3loImage ./build-output -Store ./images -Name demo/app -Tag $_ -SourceTag $_ } | Out-Host

    Write-Step 'Get-S3loImage ./images'
    Get-S3loImage ./images | Out-Host

    Write-Step 'Get-S3loImage ./images -Tag v1* | Get-S3loManifest'
    Get-S3loImage ./images -Tag 'v1*' | Get-S3loManifest | Select-Object Reference, Digest, @{ n = 'Layers'; e = { $_.Layers.Count } } | Out-Host

    Write-Step 'Save-S3loImage local://./images/demo/app:v2.0 -Path ./app.tar (a docker-archive for docker load / podman load)'
    Save-S3loImage local://./images/demo/app:v2.0 -Path ./app.tar | Out-Host
    Write-Step 'Save-S3loImage local://./images/demo/app:v2.0 -Path ./app-layout -Format OciLayout'
    Save-S3loImage local://./images/demo/app:v2.0 -Path ./app-layout -Format OciLayout | Out-Host

    Write-Step "Get-S3loImage ./images | Where-Object Tag -like 'v1*' | Remove-S3loImage -WhatIf"
    Get-S3loImage ./images | Where-Object Tag -like 'v1*' | Remove-S3loImage -WhatIf

    Write-Step '... and for real (-Confirm:$false, as a scheduled job would)'
    Get-S3loImage ./images | Where-Object Tag -like 'v1*' | Remove-S3loImage -Confirm:$false -PassThru | Out-Host

    Write-Step 'What is left'
    Get-S3loImage ./images | Out-Host
    $left = @(Get-S3loImage ./images)
    if ($left.Count -ne 1 -or $left[0].Tag -ne 'v2.0') { throw "expected only demo/app:v2.0 to be left, found: $($left.Reference -join ', ')" }
    Write-Host "`nDemo finished in $WorkDirectory" -ForegroundColor Green
} finally {
    Pop-Location
    if (-not $Keep) { Remove-Item -LiteralPath $WorkDirectory -Recurse -Force -ErrorAction Ignore }
}
