#Requires -Version 7.4
<#
.SYNOPSIS
The server-pull bench row: `skopeo copy` of one image from Start-S3loServer (serving a local store) against the same
copy from docker-registry (Distribution) serving the same image from its filesystem, on 127.0.0.1.

.DESCRIPTION
Writes an OCI layout of -Layers uncompressed tar layers of random data (-SizeMB in all), pushes it into a fresh local
store with Push-S3loImage twice: as it is (`-Chunked:$false`, tag v1: the image with the digests it was built with) and
chunked (tag chunked: FastCDC chunks, one zstd frame each, which the server joins into the layer). Starts Start-S3loServer
(in its own pwsh) on that store, and copies both tags from it into a fresh docker-registry with skopeo (digests kept), so
both serve the same bytes. Each round pulls each tag from both servers with
`skopeo copy --src-tls-verify=false docker://127.0.0.1:PORT/bench:<tag> oci:<fresh dir>:v1`, the order alternating between
rounds; the faster time of each counts. The rows printed are the ratios S3lo s / registry s (target <= 1.0 for the image
as built, row f; the chunked form, f2, has no target) and each server's peak resident memory (VmHWM) at the end. The servers are stopped by process id and the work directory is
removed, also on failure. Needs skopeo, tar, openssl and docker-registry.
#>
[CmdletBinding()]
param(
    [string] $ModulePath = ($env:S3LO_MODULE_PATH ? $env:S3LO_MODULE_PATH : (Join-Path $PSScriptRoot '../out/S3lo/S3lo.psd1')),
    [ValidateRange(4, 65536)] [int] $SizeMB = 1024,
    [ValidateRange(1, 64)] [int] $Layers = 4,
    [string] $WorkDirectory = (Join-Path $PSScriptRoot 'work'),
    [ValidateRange(1, 10)] [int] $Repeat = 2
)

$ErrorActionPreference = 'Stop'
$ModulePath = (Resolve-Path $ModulePath).ProviderPath
$run = (New-Item -ItemType Directory -Force (Join-Path $WorkDirectory "server-pull-$([guid]::NewGuid().ToString('N').Substring(0, 8))")).FullName
$started = [System.Collections.Generic.List[System.Diagnostics.Process]]::new()
# A fresh pwsh like this one: under `dotnet tool run pwsh` the process is dotnet, which needs pwsh.dll first.
$pwshHost = [Environment]::ProcessPath
$pwshPrefix = [IO.Path]::GetFileNameWithoutExtension($pwshHost) -eq 'dotnet' ? @(Join-Path $PSHOME 'pwsh.dll') : @()

function Get-FreePort {
    $listener = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, 0)
    try { $listener.Start(); $listener.LocalEndpoint.Port } finally { $listener.Stop() }
}

function Start-Server([string] $FilePath, [string[]] $ArgumentList, [int] $Port) {
    $info = [System.Diagnostics.ProcessStartInfo]::new($FilePath)
    foreach ($a in $ArgumentList) { $info.ArgumentList.Add($a) }
    $info.RedirectStandardOutput = $true
    $info.RedirectStandardError = $true
    $process = [System.Diagnostics.Process]::Start($info)
    $started.Add($process)
    # Output is drained so a chatty server never blocks on a full pipe.
    $null = $process.StandardOutput.ReadToEndAsync()
    $null = $process.StandardError.ReadToEndAsync()
    for ($i = 0; $i -lt 600; $i++) {
        if ($process.HasExited) { throw "$FilePath exited with code $($process.ExitCode) before serving" }
        try {
            if ((Invoke-WebRequest "http://127.0.0.1:$Port/v2/" -SkipHttpErrorCheck -TimeoutSec 2).StatusCode -eq 200) { return $process }
        } catch { Start-Sleep -Milliseconds 100 }
    }
    throw "$FilePath did not answer on port $Port"
}

function Invoke-Tool([string] $FilePath, [string[]] $ArgumentList) {
    $output = & $FilePath @ArgumentList 2>&1
    if ($LASTEXITCODE -ne 0) { throw "$FilePath $($ArgumentList -join ' ') failed: $($output -join "`n")" }
}

function Write-Blob([string] $Layout, [string] $Path) {
    $digest = (Get-FileHash -Algorithm SHA256 -LiteralPath $Path).Hash.ToLowerInvariant()
    Move-Item -LiteralPath $Path (Join-Path $Layout "blobs/sha256/$digest") -Force
    [pscustomobject]@{ Digest = "sha256:$digest"; Size = (Get-Item (Join-Path $Layout "blobs/sha256/$digest")).Length }
}

function New-PullLayout([string] $Layout) {
    $null = New-Item -ItemType Directory -Force (Join-Path $Layout 'blobs/sha256')
    $layerBytes = [long]$SizeMB * 1MB / $Layers
    $descriptors = foreach ($i in 1..$Layers) {
        $dir = New-Item -ItemType Directory (Join-Path $run "layer$i")
        Invoke-Tool openssl @('rand', '-out', (Join-Path $dir 'data.bin'), "$layerBytes")
        Invoke-Tool tar @('-cf', (Join-Path $run "layer$i.tar"), '-C', $dir, 'data.bin')
        Remove-Item -Recurse -Force $dir
        Write-Blob $Layout (Join-Path $run "layer$i.tar")
    }
    $diffIds = ($descriptors | ForEach-Object { "`"$($_.Digest)`"" }) -join ','
    [IO.File]::WriteAllText((Join-Path $run 'config.json'), "{`"architecture`":`"amd64`",`"os`":`"linux`",`"rootfs`":{`"type`":`"layers`",`"diff_ids`":[$diffIds]},`"config`":{}}")
    $config = Write-Blob $Layout (Join-Path $run 'config.json')
    $layerJson = ($descriptors | ForEach-Object { "{`"mediaType`":`"application/vnd.oci.image.layer.v1.tar`",`"digest`":`"$($_.Digest)`",`"size`":$($_.Size)}" }) -join ','
    [IO.File]::WriteAllText((Join-Path $run 'manifest.json'), "{`"schemaVersion`":2,`"mediaType`":`"application/vnd.oci.image.manifest.v1+json`",`"config`":{`"mediaType`":`"application/vnd.oci.image.config.v1+json`",`"digest`":`"$($config.Digest)`",`"size`":$($config.Size)},`"layers`":[$layerJson]}")
    $manifest = Write-Blob $Layout (Join-Path $run 'manifest.json')
    [IO.File]::WriteAllText((Join-Path $Layout 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}')
    [IO.File]::WriteAllText((Join-Path $Layout 'index.json'), "{`"schemaVersion`":2,`"manifests`":[{`"mediaType`":`"application/vnd.oci.image.manifest.v1+json`",`"digest`":`"$($manifest.Digest)`",`"size`":$($manifest.Size),`"annotations`":{`"org.opencontainers.image.ref.name`":`"v1`"}}]}")
}

function Measure-Pull([string] $Name, [int] $Port, [string] $Tag, [string] $Digest) {
    $destination = Join-Path $run "pulled-$Name-$([guid]::NewGuid().ToString('N').Substring(0, 6))"
    & sync
    $clock = [System.Diagnostics.Stopwatch]::StartNew()
    Invoke-Tool skopeo @('--insecure-policy', 'copy', '--quiet', '--src-tls-verify=false', '--dest-oci-accept-uncompressed-layers',
        "docker://127.0.0.1:$Port/bench:$Tag", "oci:${destination}:v1")
    $clock.Stop()
    $index = Get-Content -Raw (Join-Path $destination 'index.json') | ConvertFrom-Json
    if ($index.manifests[0].digest -ne $Digest) { throw "$Name served manifest $($index.manifests[0].digest), not $Digest" }
    Remove-Item -Recurse -Force $destination
    $clock.Elapsed.TotalSeconds
}

function Get-PeakResident([System.Diagnostics.Process] $Process) {
    $line = Get-Content "/proc/$($Process.Id)/status" | Where-Object { $_ -like 'VmHWM:*' }
    [long](($line -split '\s+')[1]) * 1KB
}

try {
    Write-Host "== server pull: $SizeMB MB in $Layers layers, $Repeat round(s)"
    $layout = Join-Path $run 'layout'
    New-PullLayout $layout

    $store = Join-Path $run 'store'
    $null = New-Item -ItemType Directory -Force (Join-Path $store 'blobs/sha256')
    # Chunked first: a chunking push takes a layer the store already holds whole as it is, so after the whole push the
    # chunked tag would name the very same blobs and f2 would measure f again.
    & $pwshHost @pwshPrefix -NoProfile -NonInteractive -Command "Import-Module '$ModulePath'; `$ProgressPreference = 'SilentlyContinue'; `$null = Push-S3loImage '$layout' 'local://$store/bench:chunked' -Chunked; `$null = Push-S3loImage '$layout' 'local://$store/bench:v1' -Chunked:`$false"
    if ($LASTEXITCODE -ne 0) { throw 'Push-S3loImage into the bench store failed' }
    if (-not (Test-Path (Join-Path $store 'recipes'))) { throw 'The chunked push stored no chunked layer: f2 would measure whole blobs' }

    $s3loPort = Get-FreePort
    $server = Start-Server $pwshHost (@($pwshPrefix) + @('-NoProfile', '-NonInteractive', '-Command',
        "Import-Module '$ModulePath'; Start-S3loServer 'local://$store/' -Port $s3loPort")) $s3loPort

    # The registry gets the image from the S3lo server, so both serve the same bytes (the push may have changed the
    # layers' form, e.g. compressed them, and with them the manifest).
    $registryPort = Get-FreePort
    [IO.File]::WriteAllText((Join-Path $run 'registry.yml'), "version: 0.1`nlog:`n  level: error`nstorage:`n  filesystem:`n    rootdirectory: $(Join-Path $run 'registry')`nhttp:`n  addr: 127.0.0.1:$registryPort`n")
    $registry = Start-Server docker-registry @('serve', (Join-Path $run 'registry.yml')) $registryPort
    $forms = [ordered]@{ v1 = 'f. server pull'; chunked = 'f2. chunked layers' }
    $digests = @{}
    foreach ($tag in $forms.Keys) {
        Invoke-Tool skopeo @('--insecure-policy', 'copy', '--quiet', '--preserve-digests', '--src-tls-verify=false', '--dest-tls-verify=false',
            "docker://127.0.0.1:$s3loPort/bench:$tag", "docker://127.0.0.1:$registryPort/bench:$tag")
        $digests[$tag] = (Invoke-WebRequest "http://127.0.0.1:$s3loPort/v2/bench/manifests/$tag" -Method Head -Headers @{ Accept = 'application/vnd.oci.image.manifest.v1+json' }).Headers['Docker-Content-Digest'][0]
    }
    Remove-Item -Recurse -Force $layout

    $times = @{}
    foreach ($tag in $forms.Keys) { $times[$tag] = @{ S3lo = [double]::MaxValue; Registry = [double]::MaxValue } }
    foreach ($round in 1..$Repeat) {
        $order = if ($round % 2) { 'S3lo', 'Registry' } else { 'Registry', 'S3lo' }
        foreach ($tag in $forms.Keys) {
            foreach ($name in $order) {
                $seconds = Measure-Pull $name ($name -eq 'S3lo' ? $s3loPort : $registryPort) $tag $digests[$tag]
                Write-Host ("   round {0} {1,-8} {2,-8} {3,7:0.00} s" -f $round, $tag, $name, $seconds)
                $times[$tag][$name] = [Math]::Min($times[$tag][$name], $seconds)
            }
        }
    }
    $mb = [long]$SizeMB * 1MB / 1e6
    $(foreach ($tag in $forms.Keys) {
        $t = $times[$tag]
        $ratio = $t.S3lo / $t.Registry
        [pscustomobject]@{
            Row              = $forms[$tag]
            'S3lo s'         = [Math]::Round($t.S3lo, 2)
            'registry s'     = [Math]::Round($t.Registry, 2)
            'S3lo MB/s'      = [Math]::Round($mb / $t.S3lo, 0)
            Ratio            = [Math]::Round($ratio, 2)
            Target           = $tag -eq 'v1' ? '<= 1.0' : '-'
            Verdict          = $tag -eq 'v1' ? ($ratio -le 1.0 ? 'met' : 'MISSED') : '(info)'
            'S3lo peak MB'   = [Math]::Round((Get-PeakResident $server) / 1e6, 0)
            'registry peak MB' = [Math]::Round((Get-PeakResident $registry) / 1e6, 0)
        }
    }) | Format-Table -AutoSize | Out-String -Width 200 | Write-Host
    Write-Host 'Peak memory is each server process over the whole run (both forms).'

}
finally {
    foreach ($process in $started) {
        if (-not $process.HasExited) { $process.Kill(); $process.WaitForExit(10000) | Out-Null }
    }
    Remove-Item -Recurse -Force -LiteralPath $run -ErrorAction Ignore
}
