<#
.SYNOPSIS
Shows that garbage collection's memory stays flat as a store grows: Remove-S3loStaleBlob -WhatIf over a
local store of N unreferenced blobs (default 10,000 and 100,000), each run in a fresh pwsh, reporting its
peak working set.
#>
param(
    [string] $ModulePath = $(if ($env:S3LO_MODULE_PATH) { $env:S3LO_MODULE_PATH } else { Join-Path $PSScriptRoot '../out/S3lo/S3lo.psd1' }),
    [int[]] $BlobCount = @(10000, 100000),
    [string] $WorkDirectory = (Join-Path $PSScriptRoot 'work')
)
$ErrorActionPreference = 'Stop'
$ModulePath = (Resolve-Path $ModulePath).ProviderPath
$pwsh = (Get-Process -Id $PID).Path
# pwsh as a dotnet tool runs as 'dotnet pwsh.dll'; an installed pwsh runs as itself.
$prefix = @(if ([IO.Path]::GetFileNameWithoutExtension($pwsh) -eq 'dotnet') { Join-Path $PSHOME 'pwsh.dll' })
$rows = foreach ($count in $BlobCount) {
    $store = Join-Path $WorkDirectory "gc-$count"
    Remove-Item -LiteralPath $store -Recurse -Force -ErrorAction Ignore
    $blobs = [IO.Directory]::CreateDirectory((Join-Path $store 'blobs/sha256')).FullName
    for ($i = 0; $i -lt $count; $i++) {
        $data = [BitConverter]::GetBytes([long]$i)
        $hex = [Convert]::ToHexString([Security.Cryptography.SHA256]::HashData($data)).ToLowerInvariant()
        [IO.File]::WriteAllBytes((Join-Path $blobs $hex), $data)
    }
    $script = "Import-Module '$ModulePath'; `$n = (Remove-S3loStaleBlob '$store' -GracePeriod 0 -WhatIf | Measure-Object).Count; " +
        "`"`$n `$([Diagnostics.Process]::GetCurrentProcess().PeakWorkingSet64)`""
    $clock = [Diagnostics.Stopwatch]::StartNew()
    $arguments = $prefix + @('-NoLogo', '-NoProfile', '-NonInteractive', '-Command', $script)
    $listed, $peak = (& $pwsh $arguments | Select-Object -Last 1) -split ' '
    [pscustomobject]@{ Blobs = $count; Listed = [int]$listed; PeakMB = [math]::Round([long]$peak / 1MB); Seconds = [math]::Round($clock.Elapsed.TotalSeconds, 1) }
    Remove-Item -LiteralPath $store -Recurse -Force
}
$rows | Format-Table -AutoSize | Out-String | Write-Host
