<#
.SYNOPSIS
S3lo start-up and scale bench: Import-Module over bare pwsh start, a listing of 10,000 tags from a
local store, and the requests a listing of the same tags from S3 (Ceph RGW) sends; one run, one table.

.DESCRIPTION
1. Import: -Repeat times, alternating, a bare `pwsh -NoProfile -Command exit` and one that runs
   `Import-Module S3lo` first; the fastest of each counts. Target: at most 0.5 s above bare start.
2. Local listing: writes a store of -Tags tags (100 images, each tag its own config and manifest,
   one shared layer) straight as files, then times `Get-S3loImage <store>` in a fresh pwsh: the
   first call in the process (what a script sees) and a second one. Target: the first call <= 2 s.
3. S3 listing: starts a throwaway RGW on 127.0.0.1, uploads the same files with curl (SigV4), puts
   a counting proxy (bench/count-proxy.py) in front of it, and lists the bucket through the proxy
   in a fresh pwsh. Target: requests <= ceil(keys under manifests/ / 1000) list pages + 1 per tag
   (+1: RGW marks a full last page truncated, so 10,000 keys take 11 pages). Times through the proxy are not S3lo's.
   The listing reads each tag's manifest and, for the platform, its config; configs and index
   children are kept for an hour (content-addressed), so a second listing reads only manifests.
Prints the table and a verdict; a missed target is reported, not an error. Removes what it wrote.
#>
[CmdletBinding()]
param(
    [string] $ModulePath = $(if ($env:S3LO_MODULE_PATH) { $env:S3LO_MODULE_PATH } else { Join-Path $PSScriptRoot '../out/S3lo/S3lo.psd1' }),
    [ValidateRange(100, 100000)] [int] $Tags = 10000,
    [ValidateRange(1, 20)] [int] $Repeat = 5,
    [string] $WorkDirectory = (Join-Path $PSScriptRoot 'work'),
    [ValidateSet('import', 'local-list', 's3-list')] [string[]] $Operation = @('import', 'local-list', 's3-list')
)
Set-StrictMode -Version 3.0
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
[Threading.Thread]::CurrentThread.CurrentCulture = [cultureinfo]::InvariantCulture
# pwsh as a dotnet tool runs as 'dotnet pwsh.dll'; an installed pwsh runs as itself.
$Pwsh = (Get-Process -Id $PID).Path
$PwshPrefix = if ([IO.Path]::GetFileNameWithoutExtension($Pwsh) -eq 'dotnet') { @(Join-Path $PSHOME 'pwsh.dll') } else { @() }
$AccessKey = 'benchkey'
$SecretKey = 'benchsecret'

function Get-FreeTcpPort {
    $listener = [Net.Sockets.TcpListener]::new([Net.IPAddress]::Loopback, 0)
    $listener.Start(); try { $listener.LocalEndpoint.Port } finally { $listener.Stop() }
}

# Runs pwsh with a script; returns the wall seconds of the whole process and its stdout.
function Invoke-Pwsh([string] $Script) {
    $clock = [Diagnostics.Stopwatch]::StartNew()
    $out = & $Pwsh $PwshPrefix -NoProfile -NonInteractive -Command $Script 2>&1
    $seconds = $clock.Elapsed.TotalSeconds
    if ($LASTEXITCODE -ne 0) { throw "pwsh failed ($LASTEXITCODE): $out" }
    [pscustomobject]@{ Seconds = $seconds; Output = @($out | ForEach-Object ToString) }
}

# A store of $Count tags written as files: manifests/scale/app<i % 100>/t<i>/manifest.json, each with its own config.
function New-ScaleStore([string] $Store, [int] $Count) {
    $blobs = Join-Path $Store 'blobs/sha256'
    $null = New-Item -ItemType Directory -Force $blobs
    $put = {
        param([byte[]] $Bytes)
        $hex = [Convert]::ToHexString([Security.Cryptography.SHA256]::HashData($Bytes)).ToLowerInvariant()
        [IO.File]::WriteAllBytes((Join-Path $blobs $hex), $Bytes)
        "sha256:$hex"
    }
    $layer = [Text.Encoding]::UTF8.GetBytes('x' * 512)
    $layerDigest = & $put $layer
    $utf8 = [Text.Encoding]::UTF8
    for ($i = 0; $i -lt $Count; $i++) {
        $config = $utf8.GetBytes('{"architecture":"amd64","os":"linux","config":{"Labels":{"n":"' + $i + '"}},"rootfs":{"type":"layers","diff_ids":["' + $layerDigest + '"]}}')
        $configDigest = & $put $config
        $manifest = $utf8.GetBytes('{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"' +
            $configDigest + '","size":' + $config.Length + '},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"' + $layerDigest + '","size":' + $layer.Length + '}]}')
        $dir = [IO.Directory]::CreateDirectory((Join-Path $Store ('manifests/scale/app{0}/t{1}' -f ($i % 100), $i)))
        [IO.File]::WriteAllBytes((Join-Path $dir.FullName 'manifest.json'), $manifest)
    }
}

$runDir = Join-Path $WorkDirectory "scale-$([guid]::NewGuid().ToString('N').Substring(0, 8))"
$moduleCopy = Join-Path ([IO.Path]::GetTempPath()) "s3lo-scale-module-$PID"
$rows = [Collections.Generic.List[object]]::new()
$rgw = $null; $proxy = $null
try {
    $null = New-Item -ItemType Directory -Force $runDir
    Copy-Item -Recurse (Split-Path -Parent (Resolve-Path $ModulePath)) $moduleCopy
    $manifest = Join-Path $moduleCopy 'S3lo.psd1'
    Write-Host "S3lo scale bench $(Get-Date -Format 'yyyy-MM-dd HH:mm:ss zzz'); $([Environment]::ProcessorCount) cores; load $((Get-Content /proc/loadavg) -split ' ' | Select-Object -First 3)"

    if ('import' -in $Operation) {
        $bare = [double]::MaxValue; $import = [double]::MaxValue; $inside = [double]::MaxValue
        for ($r = 0; $r -lt $Repeat; $r++) {
            $bare = [Math]::Min($bare, (Invoke-Pwsh 'exit 0').Seconds)
            $run = Invoke-Pwsh "`$c = [Diagnostics.Stopwatch]::StartNew(); Import-Module '$manifest'; `$c.Elapsed.TotalSeconds; exit 0"
            $import = [Math]::Min($import, $run.Seconds)
            $inside = [Math]::Min($inside, [double]$run.Output[-1])
        }
        $measured = '{0:F2} s ({1:F2} s vs {2:F2} s; the call itself {3:F2} s)' -f ($import - $bare), $import, $bare, $inside
        $rows.Add([pscustomobject]@{ Row = 'Import-Module over bare pwsh'; Measured = $measured; Target = '<= 0.50 s'; Met = ($import - $bare) -le 0.5 })
    }

    $store = Join-Path $runDir 'store'
    if ('local-list' -in $Operation -or 's3-list' -in $Operation) {
        $clock = [Diagnostics.Stopwatch]::StartNew()
        New-ScaleStore $store $Tags
        Write-Host ("store of {0:N0} tags written in {1:F1} s" -f $Tags, $clock.Elapsed.TotalSeconds)
    }
    $listScript = {
        param($Target, $Extra)
        "Import-Module '$manifest'; `$ProgressPreference = 'SilentlyContinue'
         foreach (`$i in 1, 2) { `$c = [Diagnostics.Stopwatch]::StartNew(); `$n = (Get-S3loImage $Target $Extra | Measure-Object).Count; '{0} {1}' -f `$n, `$c.Elapsed.TotalSeconds }"
    }
    if ('local-list' -in $Operation) {
        $first = [double]::MaxValue; $second = [double]::MaxValue
        for ($r = 0; $r -lt [Math]::Min($Repeat, 3); $r++) {
            $out = (Invoke-Pwsh (& $listScript "local://$store/" '')).Output | Select-Object -Last 2
            $counts = $out | ForEach-Object { [int]($_ -split ' ')[0] }
            if (@($counts | Where-Object { $_ -ne $Tags })) { throw "the local listing returned $($counts -join ', ') tags, not $Tags" }
            $first = [Math]::Min($first, [double](($out[0] -split ' ')[1])); $second = [Math]::Min($second, [double](($out[1] -split ' ')[1]))
        }
        $measured = '{0:F2} s first call ({1:F2} s again)' -f $first, $second
        $rows.Add([pscustomobject]@{ Row = "Get-S3loImage, $Tags tags, local"; Measured = $measured; Target = '<= 2.00 s'; Met = $first -le 2.0 })
    }

    if ('s3-list' -in $Operation) {
        $port = Get-FreeTcpPort; $proxyPort = Get-FreeTcpPort
        $rgw = @{ RGW_BASE = Join-Path ([IO.Path]::GetTempPath()) "s3lo-scale-rgw-$port"; RGW_PORT = "$port"; RGW_MON_V2_PORT = "$(Get-FreeTcpPort)"
            RGW_MON_V1_PORT = "$(Get-FreeTcpPort)"; RGW_ACCESS_KEY = $AccessKey; RGW_SECRET_KEY = $SecretKey; RGW_MEMSTORE_BYTES = "$(1GB)" }
        foreach ($k in $rgw.Keys) { Set-Item "env:$k" $rgw[$k] }
        & bash (Join-Path $PSScriptRoot '../tests/servers/start-rgw.sh') | Out-Null
        if ($LASTEXITCODE -ne 0) { throw 'start-rgw.sh failed' }
        $endpoint = "http://127.0.0.1:$port"
        $sigv4 = @('--aws-sigv4', 'aws:amz:us-east-1:s3', '--user', "${AccessKey}:$SecretKey", '-H', 'x-amz-content-sha256: UNSIGNED-PAYLOAD')
        & curl -sS --fail @sigv4 -X PUT "$endpoint/scale" | Out-Null
        if ($LASTEXITCODE -ne 0) { throw 'creating the bucket failed' }
        # curl --parallel with a config file: one upload per file of the store
        $curlConfig = Join-Path $runDir 'curl.cfg'
        $files = Get-ChildItem -Recurse -File $store
        # Each manifest.json goes up with the listing metadata S3lo's publish stores with it (docs/format.md, "Listing
        # metadata"): the manifest's digest and the platform its config declares, computed here the same way from the
        # store's files. Every upload is its own group of options in the config ('next'), so each has its own headers.
        $files | ForEach-Object {
            $key = [IO.Path]::GetRelativePath($store, $_.FullName) -replace '\\', '/'
            $headers = @('header = "x-amz-content-sha256: UNSIGNED-PAYLOAD"')
            if ($_.Name -eq 'manifest.json') {
                $bytes = [IO.File]::ReadAllBytes($_.FullName)
                $digest = 'sha256:' + [Convert]::ToHexString([Security.Cryptography.SHA256]::HashData($bytes)).ToLowerInvariant()
                $configDigest = ([Text.Encoding]::UTF8.GetString($bytes) | ConvertFrom-Json).config.digest
                $config = Get-Content -Raw (Join-Path $store "blobs/sha256/$($configDigest.Substring(7))") | ConvertFrom-Json
                $platform = "$($config.os)/$($config.architecture)" + $(if ($config.PSObject.Properties['variant'] -and $config.variant) { "/$($config.variant)" })
                $headers += "header = `"x-amz-meta-s3lodigest: $digest`"", "header = `"x-amz-meta-s3loplatform: $platform`""
            }
            "fail`nsilent`nshow-error`naws-sigv4 = `"aws:amz:us-east-1:s3`"`nuser = `"${AccessKey}:$SecretKey`"`n$($headers -join "`n")`nupload-file = `"$($_.FullName)`"`nurl = `"$endpoint/scale/$key`"`noutput = /dev/null"
        } | Join-String -Separator "`nnext`n" | Set-Content $curlConfig
        $clock = [Diagnostics.Stopwatch]::StartNew()
        & curl -sS --fail --no-progress-meter --parallel --parallel-max 16 --config $curlConfig
        if ($LASTEXITCODE -ne 0) { throw 'uploading the store failed' }
        Write-Host ("{0:N0} objects uploaded to RGW in {1:F1} s" -f $files.Count, $clock.Elapsed.TotalSeconds)

        $proxy = Start-Process python3 -ArgumentList (Join-Path $PSScriptRoot 'count-proxy.py'), $proxyPort, $port -PassThru
        $viaProxy = "http://127.0.0.1:$proxyPort"
        for ($i = 0; $i -lt 100; $i++) { try { $null = Invoke-RestMethod "$viaProxy/__reset"; break } catch { Start-Sleep -Milliseconds 100 } }
        $env:AWS_ACCESS_KEY_ID = $AccessKey; $env:AWS_SECRET_ACCESS_KEY = $SecretKey; $env:AWS_REGION = 'us-east-1'
        # the two listings of one process, counted apart
        $script = "Import-Module '$manifest'; `$ProgressPreference = 'SilentlyContinue'
            foreach (`$i in 1, 2) { `$c = [Diagnostics.Stopwatch]::StartNew(); `$n = (Get-S3loImage s3://scale/ -EndpointUrl $viaProxy | Measure-Object).Count
                '{0} {1} {2}' -f `$n, `$c.Elapsed.TotalSeconds, ((Invoke-RestMethod $viaProxy/__count | ConvertTo-Json -Compress)); `$null = Invoke-RestMethod $viaProxy/__reset }"
        $out = (Invoke-Pwsh $script).Output | Select-Object -Last 2
        $keys = @($files | Where-Object { $_.FullName.StartsWith((Join-Path $store 'manifests')) }).Count
        # one request per 1,000 keys listed, one per tag, +1: RGW marks a full last page truncated and answers one more, empty page
        $allowed = [Math]::Ceiling($keys / 1000) + $Tags + 1
        foreach ($pass in 0, 1) {
            $parts = $out[$pass] -split ' ', 3
            if ([int]$parts[0] -ne $Tags) { throw "the S3 listing returned $($parts[0]) tags, not $Tags" }
            $count = $parts[2] | ConvertFrom-Json
            $total = ($count.PSObject.Properties.Value | Measure-Object -Sum).Sum
            $label = if ($pass -eq 0) { 'first listing in the session' } else { 'second listing, same session' }
            $kinds = ($count.PSObject.Properties | ForEach-Object { "$($_.Name) $($_.Value)" }) -join ', '
            $measured = '{0:N0} requests ({1}), {2:F2} s' -f $total, $kinds, [double]$parts[1]
            $rows.Add([pscustomobject]@{ Row = "Get-S3loImage, $Tags tags, S3: $label"; Measured = $measured; Target = "<= $allowed"; Met = $total -le $allowed })
        }
    }
} finally {
    if ($proxy) { Stop-Process -Id $proxy.Id -Force -ErrorAction Ignore }
    if ($rgw) { & bash (Join-Path $PSScriptRoot '../tests/servers/stop-rgw.sh') --purge | Out-Null }
    Remove-Item -Recurse -Force -LiteralPath $runDir, $moduleCopy -ErrorAction Ignore
}
$rows | Format-List Row, Measured, Target, Met | Out-Host
$missed = @($rows | Where-Object { -not $_.Met })
Write-Host ("verdict: {0} of {1} targets met{2}" -f ($rows.Count - $missed.Count), $rows.Count, $(if ($missed) { '; missed: ' + ($missed.Row -join '; ') } else { '' }))
