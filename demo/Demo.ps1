<#
.SYNOPSIS
An admin's day with S3lo, on a local directory store and with no server: push, push an edited build
(chunks reused), read a file out of the image, sign and verify, check and measure the store, preview
the lifecycle and prune, save for docker load.

.DESCRIPTION
Needs nothing but the built module: the demo images are written here as an OCI image layout (a
24 MiB base layer of generated files, stored chunked, and a small app layer). Everything happens
under -WorkDirectory (default: a new temporary directory, removed at the end unless -Keep).
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
        $entry.ModificationTime = [DateTimeOffset]::new(2026, 1, 1, 0, 0, 0, [TimeSpan]::Zero)   # reproducible, as build tools make layers
        $writer.WriteEntry($entry)
    }
    $writer.Dispose()
    $buffer.ToArray()
}

# An OCI image layout, as buildah, skopeo or BuildKit would write one, with one image per tag.
# -Edited: the same base layer with one of its files changed, as a rebuild after a one-line fix would make it.
function New-DemoLayout([string] $Layout, [string[]] $Tags, [switch] $Edited) {
    $Layout = $ExecutionContext.SessionState.Path.GetUnresolvedProviderPathFromPSPath($Layout)
    $null = New-Item -ItemType Directory -Force (Join-Path $Layout 'blobs/sha256')
    [IO.File]::WriteAllText((Join-Path $Layout 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}')
    $random = [Random]::new(42)
    $files = @{ 'etc/os-release' = [Text.Encoding]::UTF8.GetBytes("NAME=demo`nVERSION_ID=$(if ($Edited) { '1.1' } else { '1.0' })`n") }
    foreach ($i in 1..6) { $data = [byte[]]::new(4MB); $random.NextBytes($data); $files["usr/lib/demo/part$i.bin"] = $data }
    $baseLayer = New-LayerTar $files
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
    Write-Step 'The build output: an OCI layout with two builds of demo/app (v1.0, v2.0)'
    New-DemoLayout -Layout ./build-output -Tags 'v1.0', 'v2.0'
    Get-ChildItem ./build-output/blobs/sha256 | Sort-Object Length -Descending | Format-Table Name, Length | Out-Host

    Write-Step 'Push-S3loImage ./build-output -Store ./images -Name demo/app -Tag v1.0 -SourceTag v1.0 (a new store in ./images)'
    $first = Push-S3loImage ./build-output -Store ./images -Name demo/app -Tag v1.0 -SourceTag v1.0
    $first | Out-Host
    Write-Host ('layers over 1 MiB are stored chunked: {0} chunks uploaded, {1:N0} bytes before and {2:N0} after compression' -f $first.ChunksUploaded, $first.BytesBeforeCompression, $first.BytesAfterCompression)

    Write-Step 'The same image again, by reference: everything is there already, nothing is uploaded'
    $again = Push-S3loImage ./build-output local://./images/demo/app:v1.0 -SourceTag v1.0
    Write-Host ('blobs uploaded: {0}, bytes uploaded: {1:N0}' -f $again.BlobsUploaded, $again.BytesUploaded)

    Write-Step 'v2.0 shares the base layer: only its own layer and config go up'
    $v2 = Push-S3loImage ./build-output -Store ./images -Name demo/app -Tag v2.0 -SourceTag v2.0
    Write-Host ('blobs uploaded: {0} ({1:N0} bytes), skipped: {2}' -f $v2.BlobsUploaded, $v2.BytesUploaded, $v2.BlobsSkipped)

    Write-Step 'A rebuild after a one-file fix in the 24 MiB base layer (v1.1): only the chunks that changed go up'
    New-DemoLayout -Layout ./build-edited -Tags 'v1.1' -Edited
    $edited = Push-S3loImage ./build-edited -Store ./images -Name demo/app -Tag v1.1 -SourceTag v1.1
    Write-Host ('chunks uploaded: {0}, reused: {1}; {2:N0} bytes uploaded for an image of {3:N0}' -f $edited.ChunksUploaded, $edited.ChunksReused, $edited.BytesUploaded, $edited.BytesTotal)
    if ($edited.ChunksUploaded -gt 2 -or $edited.ChunksReused -lt 1) { throw "expected at most two new chunks and some reused ones, got $($edited.ChunksUploaded) new, $($edited.ChunksReused) reused" }

    Write-Step 'Get-S3loImage ./images'
    Get-S3loImage ./images | Out-Host

    Write-Step 'Get-S3loImage ./images -Tag v1* | Get-S3loManifest'
    Get-S3loImage ./images -Tag 'v1*' | Get-S3loManifest | Select-Object Reference, Digest, @{ n = 'Layers'; e = { $_.Layers.Count } } | Out-Host

    Write-Step 'A file read out of the image, without pulling it: Read-S3loImageFile local://./images/demo/app:v1.1 -Path /etc/os-release'
    Get-S3loImageFile local://./images/demo/app:v1.1 -Path '/etc/*' | Out-Host
    $release = Read-S3loImageFile local://./images/demo/app:v1.1 -Path /etc/os-release
    $release | Out-Host
    if ($release -notcontains 'VERSION_ID=1.1') { throw "os-release of v1.1 reads: $release" }

    Write-Step 'Sign v1.1 with an ECDSA P-256 key (a PEM file; cosign key files, certificates and AWS KMS keys work too)'
    $key = [Security.Cryptography.ECDsa]::Create([Security.Cryptography.ECCurve+NamedCurves]::nistP256)
    Set-Content -LiteralPath ./signing.pem -Value $key.ExportPkcs8PrivateKeyPem()
    Set-Content -LiteralPath ./signing.pub.pem -Value $key.ExportSubjectPublicKeyInfoPem()
    Set-S3loImageSignature local://./images/demo/app:v1.1 -KeyPath ./signing.pem | Out-Host

    Write-Step 'The deploy gate: Test-S3loImageSignature answers $true for the signed tag, $false for an unsigned one'
    $signed = Test-S3loImageSignature local://./images/demo/app:v1.1 -PublicKeyPath ./signing.pub.pem
    $unsigned = Test-S3loImageSignature local://./images/demo/app:v2.0 -PublicKeyPath ./signing.pub.pem
    Write-Host "demo/app:v1.1 signed: $signed; demo/app:v2.0 signed: $unsigned"
    Test-S3loImageSignature local://./images/demo/app:v2.0 -PublicKeyPath ./signing.pub.pem -Detailed | Out-Host
    if (-not $signed -or $unsigned) { throw "expected v1.1 to verify and v2.0 not to, got $signed and $unsigned" }

    Write-Step 'Test-S3loStore ./images -Deep: every tag, blob and chunk read back and checked against its digest'
    $problems = @(Test-S3loStore ./images -Deep)
    if ($problems) { $problems | Out-Host } else { Write-Host 'no problems found' }
    if (-not (Test-S3loStore ./images -Quiet)) { throw 'the demo store should be healthy' }

    Write-Step 'Measure-S3loStore ./images: what dedup and chunking save, and what the store would cost'
    Measure-S3loStore ./images | Out-Host

    Write-Step 'Save-S3loImage local://./images/demo/app:v2.0 -Path ./app.tar (a docker-archive for docker load / podman load)'
    Save-S3loImage local://./images/demo/app:v2.0 -Path ./app.tar | Out-Host

    Write-Step 'Retention: keep the newest 2 tags of demo/app; the lifecycle plan says what would go'
    Set-S3loPolicy ./images -Name demo/app -KeepLast 2 -Confirm:$false
    Get-S3loLifecyclePlan ./images | Out-Host

    Write-Step "By hand: Get-S3loImage ./images | Where-Object Tag -like 'v1*' | Remove-S3loImage -WhatIf"
    Get-S3loImage ./images | Where-Object Tag -like 'v1*' | Remove-S3loImage -WhatIf

    Write-Step 'As a scheduled job would: Invoke-S3loLifecycle ./images -GracePeriod 0 -Confirm:$false (prune by policy, then collect unreferenced blobs and chunks)'
    Invoke-S3loLifecycle ./images -GracePeriod 0 -Confirm:$false | Out-Host

    Write-Step 'What is left'
    $left = @(Get-S3loImage ./images)
    $left | Out-Host
    if ($left.Count -ne 2 -or ($left.Tag | Sort-Object) -join ',' -ne 'v1.1,v2.0') { throw "expected demo/app:v1.1 and v2.0 to be left, found: $($left.Reference -join ', ')" }
    Write-Host "`nDemo finished in $WorkDirectory" -ForegroundColor Green
} finally {
    Pop-Location
    if (-not $Keep) { Remove-Item -LiteralPath $WorkDirectory -Recurse -Force -ErrorAction Ignore }
}
