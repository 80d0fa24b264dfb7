<#
.SYNOPSIS
S3lo benchmark: push, save and re-push of a 1 GiB, 4-layer image, side by side with skopeo, curl and
a hash-and-copy floor; prints a table and a verdict against the performance targets.

.DESCRIPTION
1. Writes a test image directly: an OCI image layout with 4 uncompressed tar layers of random data
   (-SizeMB in total, default 1024), and a docker-archive of it made by skopeo.
2. Measures, twice each (tool order alternating between rounds; the faster run counts):
   a. Push-S3loImage docker-archive -> local store   vs  skopeo copy docker-archive: -> oci:
      (the store directory is made first, with blobs/sha256: a local reference to a store that does not
      exist yet names the FIRST path component as the store, as the Go s3lo reads it)
   b. Save-S3loImage local store -> OCI layout        vs  skopeo copy oci: -> oci:
   c. Push-S3loImage again, unchanged, same store     vs  skopeo copy docker-archive: into the same oci: dir
   d. Push-S3loImage OCI layout -> S3 (Ceph RGW)      vs  curl --parallel PUT of the same 5 blob files
      to the same server, reported as a throughput ratio (S3lo / bare upload; target >= 0.8x)
   e. the floor: read + SHA-256 + write the 4 layers, 4 in parallel: a .NET loop (one thread per
      layer, 1 MiB buffers) in a fresh pwsh, timed like the S3lo calls, and as shell tools: tee |
      openssl dgst -sha256 per layer, 4 in parallel. The faster of the two is the ratio's floor.
   skopeo runs with --dest-oci-accept-uncompressed-layers: without it, skopeo gzips every layer on
   its way into an oci: layout, while S3lo stores them as they are; like must be compared with like.
   Every S3lo operation runs in its own fresh pwsh (bench/Measure-S3loOperation.ps1), which reports
   the cmdlet's time and its process' PeakWorkingSet64; a pwsh that only imports the module is the
   memory baseline. External tools run under /usr/bin/time -f %M for their peak RSS.
   Caches are not dropped: the page cache is warm for every tool alike. 'sync' runs before each
   measurement so no tool pays for the previous one's writeback.
   -Operation runs only some of them (save and re-push then get an unrecorded push to fill the store).
3. Prints the table and the verdict. Missing a target is reported, not an error; the exit code is
   non-zero only when a step itself failed.
4. Removes everything it wrote and stops the S3 server.

The module is copied to a private temporary directory first, so a rebuild of out/S3lo while the
benchmark runs cannot touch the loaded DLLs.
#>
[CmdletBinding()]
param(
    # The S3lo module manifest; default $env:S3LO_MODULE_PATH (set by ./build.sh Bench), else out/S3lo/S3lo.psd1.
    [string] $ModulePath = $(if ($env:S3LO_MODULE_PATH) { $env:S3LO_MODULE_PATH } else { Join-Path $PSScriptRoot '../out/S3lo/S3lo.psd1' }),
    # Total image size in MiB, split over 4 layers (a multiple of 4).
    [ValidateRange(4, 65536)] [int] $SizeMB = 1024,
    # Where the run's directory is made (removed at the end).
    [string] $WorkDirectory = (Join-Path $PSScriptRoot 'work'),
    # Runs per measurement; the fastest counts.
    [ValidateRange(1, 10)] [int] $Repeat = 2,
    # Only these measurements (default: all). save and re-push need a filled store: without push, an
    # unrecorded push fills it first. The memory baseline always runs.
    # edit-re-push needs chunked-push in the same run, s3-read-file needs s3-chunked-push.
    [ValidateSet('push', 'save', 're-push', 's3-push', 's3-push-http', 'azure-push', 'chunked-push', 'chunked-re-push', 'edit-re-push', 's3-chunked-push', 's3-read-file', 'durability', 'floor')]
    [string[]] $Operation = @('push', 'save', 're-push', 's3-push', 'azure-push', 'chunked-push', 'chunked-re-push', 'edit-re-push', 's3-chunked-push', 's3-read-file', 'durability', 'floor')
)
Set-StrictMode -Version 3.0
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
[Threading.Thread]::CurrentThread.CurrentCulture = [cultureinfo]::InvariantCulture
if ($SizeMB % 4) { throw "-SizeMB must be a multiple of 4 (4 equal layers), not $SizeMB" }

$LayerCount = 4
$LayerBytes = [long]$SizeMB * 1MB / $LayerCount
$Worker = Join-Path $PSScriptRoot 'Measure-S3loOperation.ps1'
$RgwScripts = Join-Path $PSScriptRoot '../tests/servers'
$AccessKey = 'benchkey'
$SecretKey = 'benchsecret'
$ResultPrefix = 'S3LO-BENCH-RESULT '
# Targets of the S3 push: throughput relative to the bare parallel upload, and peak memory (whole process).
$S3ThroughputTarget = 0.8
$PeakMemoryTarget = 300e6
$NeedLocal = [bool]($Operation | Where-Object { $_ -in 'push', 'save', 're-push' })
$NeedS3 = [bool]($Operation | Where-Object { $_ -in 's3-push', 's3-push-http', 's3-chunked-push', 's3-read-file' })
$NeedAzure = $Operation -contains 'azure-push'
# Set when RGW starts; Measure-S3lo defaults -EndpointUrl to it, so it must exist (strict mode) in runs without S3.
$script:Endpoint = $null
# h'. (the chunked push with and without fsync) runs with h.
$Ops = @($Operation) + @(if ($Operation -contains 'durability') { 'durability-chunked' })
# Targets of the chunked push: its time over the zstd -3 -T0 + SHA-256 floor, and an unchanged re-push over the first push.
$ChunkedFloorTarget = 1.3
# The whole-layer local push and the save, each against skopeo doing the same.
$SkopeoTargets = @{ push = 0.35; save = 0.9 }
$ChunkedRePushTarget = 0.1
# A one-file edit in a large layer uploads at most this many chunks.
$EditChunksTarget = 2
# The small file that the file read takes out of layer 1 (the layers are otherwise one large file each).
$SmallFilePath = 'etc/s3lo-bench.txt'
$SmallFileBytes = [Text.Encoding]::UTF8.GetBytes((1..40 | ForEach-Object { "line $_ of the small file the bench reads out of the image" }) -join "`n")

function Write-Step([string] $Text) { Write-Host "== $Text" }

#region processes

function Invoke-Process {
    <# Runs a program (no shell), returns ExitCode, Seconds (wall), StdOut, StdErr. #>
    param([Parameter(Mandatory)] [string] $FilePath, [string[]] $ArgumentList = @(), [string] $WorkingDirectory = $PWD.ProviderPath, [hashtable] $Environment = @{})
    $info = [Diagnostics.ProcessStartInfo]::new($FilePath)
    foreach ($k in $Environment.Keys) { $info.Environment[$k] = $Environment[$k] }
    foreach ($a in $ArgumentList) { $info.ArgumentList.Add($a) }
    $info.RedirectStandardOutput = $true
    $info.RedirectStandardError = $true
    $info.UseShellExecute = $false
    $info.WorkingDirectory = $WorkingDirectory
    $clock = [Diagnostics.Stopwatch]::StartNew()
    $process = [Diagnostics.Process]::Start($info)
    $stdout = $process.StandardOutput.ReadToEndAsync()
    $stderr = $process.StandardError.ReadToEndAsync()
    $process.WaitForExit()
    $clock.Stop()
    [pscustomobject]@{
        ExitCode = $process.ExitCode
        Seconds  = $clock.Elapsed.TotalSeconds
        StdOut   = $stdout.GetAwaiter().GetResult()
        StdErr   = $stderr.GetAwaiter().GetResult()
    }
}

function Invoke-Checked {
    <# Runs a program for setup (not measured); throws with its output if it fails. #>
    param([Parameter(Mandatory)] [string] $FilePath, [string[]] $ArgumentList = @())
    $r = Invoke-Process $FilePath $ArgumentList
    if ($r.ExitCode -ne 0) { throw "$FilePath $($ArgumentList -join ' ') failed (exit code $($r.ExitCode)):`n$($r.StdOut)$($r.StdErr)" }
    $r.StdOut
}

function New-Measurement([string] $Tool, [string] $Op) {
    [pscustomobject]@{ Tool = $Tool; Op = $Op; Ok = $false; Seconds = $null; ProcessSeconds = $null; PeakBytes = $null; Output = $null; Error = $null }
}

function Measure-Native {
    <# A program under /usr/bin/time: wall time (Stopwatch) and peak RSS (%M, KiB). #>
    param([string] $Tool, [string] $Op, [string] $FilePath, [string[]] $ArgumentList, [scriptblock] $Check)
    $m = New-Measurement $Tool $Op
    $timeFile = Join-Path $script:RunDir "time-$([guid]::NewGuid().ToString('N')).txt"
    try {
        $r = Invoke-Process '/usr/bin/time' (@('-f', '%M', '-o', $timeFile, $FilePath) + $ArgumentList)
        $m.Seconds = $r.Seconds
        $m.ProcessSeconds = $r.Seconds
        $lastLine = @(Get-Content -LiteralPath $timeFile | Where-Object { $_ -match '^\d+$' })[-1]
        $m.PeakBytes = [long]$lastLine * 1KB
        if ($r.ExitCode -ne 0) { throw "exit code $($r.ExitCode): $($r.StdErr.Trim()) $($r.StdOut.Trim())" }
        if ($Check) { & $Check $r }
        $m.Ok = $true
    } catch {
        $m.Error = "$_"
    } finally {
        Remove-Item -LiteralPath $timeFile -ErrorAction Ignore
    }
    $m
}

function Measure-CurlS3Push {
    <# curl PUTs of the image's 5 blob files to a fresh bucket, 4 at once, UNSIGNED-PAYLOAD (the bare upload the S3 push is held against). #>
    param([string] $Op, [string] $Bucket, [string] $EndpointUrl)
    New-Bucket $Bucket
    $curlArgs = @('-sS', '--fail', '--parallel', '--parallel-max', '4', '--aws-sigv4', 'aws:amz:us-east-1:s3',
        '--user', "${AccessKey}:${SecretKey}", '-H', 'x-amz-content-sha256: UNSIGNED-PAYLOAD', '-w', '%{http_code}\n')
    if ($EndpointUrl.StartsWith('https:')) { $curlArgs += @('--cacert', $script:RgwCertificate) }
    foreach ($f in $script:Image.Files) { $curlArgs += @('-T', $f.Path, "$EndpointUrl/$Bucket/blobs/sha256/$($f.Hex)") }
    Measure-Native 'curl' $Op curl $curlArgs -Check {
        param($r)
        $codes = @($r.StdOut -split "`n" | Where-Object { $_ })
        if ($codes.Count -ne $script:Image.Files.Count -or @($codes | Where-Object { $_ -ne '200' })) { throw "curl PUT statuses: $($codes -join ' ')" }
    }
}

function Measure-S3lo {
    <# One S3lo operation in a fresh pwsh (Measure-S3loOperation.ps1). #>
    param([string] $Op, [string] $Operation, [string] $Path, [string] $Reference, [switch] $S3, [scriptblock] $Check, [string[]] $Source, [string] $Tool = 'S3lo',
        [string] $Chunked, [switch] $Azure, [hashtable] $Environment = @{}, [string] $EndpointUrl = $script:Endpoint)
    $m = New-Measurement $Tool $Op
    $arguments = @('-NoLogo', '-NoProfile', '-NonInteractive', '-File', $Worker, '-ModulePath', $script:PrivateManifest, '-Operation', $Operation)
    if ($Path) { $arguments += @('-Path', $Path) }
    if ($Reference) { $arguments += @('-Reference', $Reference) }
    if ($Source) { $arguments += @('-Source', ($Source -join '|')) }
    if ($S3) { $arguments += @('-EndpointUrl', $EndpointUrl, '-AccessKey', $AccessKey, '-SecretKey', $SecretKey) }
    if ($Azure) { $arguments += @('-EndpointUrl', $script:Azurite.EndpointUrl, '-AccountName', $script:Azurite.AccountName, '-AccountKey', $script:Azurite.AccountKey) }
    if ($Chunked) { $arguments += @('-Chunked', $Chunked) }
    try {
        $r = Invoke-Process $script:PwshHost (@($script:PwshPrefix) + $arguments) -Environment $Environment
        $m.ProcessSeconds = $r.Seconds
        $line = @($r.StdOut -split "`n" | Where-Object { $_.StartsWith($ResultPrefix) })
        if (-not $line) { throw "the worker printed no result (exit code $($r.ExitCode)):`n$($r.StdOut)$($r.StdErr)" }
        $result = $line[-1].Substring($ResultPrefix.Length) | ConvertFrom-Json
        $m.PeakBytes = [long]$result.PeakWorkingSet
        $m.Seconds = $result.Seconds
        $m.Output = $result.Output
        if (-not $result.Ok) { throw $result.Error }
        if ($Check) { & $Check $result.Output }
        $m.Ok = $true
    } catch {
        $m.Error = "$_"
    }
    $m
}

#endregion

#region test image

function New-TarHeader([string] $FileName, [long] $DataBytes) {
    $header = [byte[]]::new(512)
    $ascii = [Text.Encoding]::ASCII
    $fields = @(
        @(0, $FileName), @(100, '0000644'), @(108, '0000000'), @(116, '0000000'),
        @(124, [Convert]::ToString($DataBytes, 8).PadLeft(11, '0')),
        @(136, [Convert]::ToString([DateTimeOffset]::new(2024, 1, 1, 0, 0, 0, [TimeSpan]::Zero).ToUnixTimeSeconds(), 8).PadLeft(11, '0')),
        @(156, '0'), @(257, "ustar`0"), @(263, '00'), @(265, 'root'), @(297, 'root'))
    foreach ($f in $fields) { $b = $ascii.GetBytes($f[1]); [Array]::Copy($b, 0, $header, $f[0], $b.Length) }
    for ($i = 148; $i -lt 156; $i++) { $header[$i] = 32 }
    $sum = 0; foreach ($b in $header) { $sum += $b }
    $b = $ascii.GetBytes([Convert]::ToString($sum, 8).PadLeft(6, '0') + "`0 ")
    [Array]::Copy($b, 0, $header, 148, 8)
    , $header
}

function New-LayerTar {
    <#
    Writes an uncompressed tar holding one file of random data (and, with -SmallFile, a small text file after it);
    returns its sha256 hex and size. With -EditOf, the large file's bytes are those of that earlier layer file with 4 KiB
    in its middle replaced (seeded): a one-file edit.
    #>
    param([string] $Directory, [string] $FileName, [long] $DataBytes, [switch] $SmallFile, [string] $EditOf)
    $tmp = Join-Path $Directory "layer-$([guid]::NewGuid().ToString('N')).tmp"
    $hash = [Security.Cryptography.IncrementalHash]::CreateHash([Security.Cryptography.HashAlgorithmName]::SHA256)
    $rng = [Security.Cryptography.RandomNumberGenerator]::Create()
    $source = if ($EditOf) { [IO.File]::OpenRead($EditOf) } else { $null }
    $buffer = [byte[]]::new(4MB)
    $stream = [IO.FileStream]::new($tmp, [IO.FileMode]::CreateNew, [IO.FileAccess]::Write, [IO.FileShare]::None, 1MB)
    $write = { param([byte[]] $Bytes, [int] $Count) $stream.Write($Bytes, 0, $Count); $hash.AppendData($Bytes, 0, $Count) }
    try {
        $header = New-TarHeader $FileName $DataBytes
        & $write $header 512
        if ($source) { $null = $source.Seek(512, [IO.SeekOrigin]::Begin) }
        $edit = [long]($DataBytes / 2)
        $done = 0L
        while ($done -lt $DataBytes) {
            $n = [int][Math]::Min($DataBytes - $done, $buffer.Length)
            if ($source) {
                $source.ReadExactly($buffer, 0, $n)
                if ($edit -ge $done -and $edit -lt $done + $n) {
                    $patch = [byte[]]::new([Math]::Min(4096, $done + $n - $edit))
                    [Random]::new(42).NextBytes($patch)
                    [Array]::Copy($patch, 0, $buffer, $edit - $done, $patch.Length)
                }
            } else {
                $rng.GetBytes($buffer, 0, $n)
            }
            & $write $buffer $n
            $done += $n
        }
        $pad = (512 - $DataBytes % 512) % 512   # fill the last block
        & $write ([byte[]]::new($pad)) $pad
        if ($SmallFile) {
            & $write (New-TarHeader $SmallFilePath $SmallFileBytes.Length) 512
            & $write $SmallFileBytes $SmallFileBytes.Length
            $pad = (512 - $SmallFileBytes.Length % 512) % 512
            & $write ([byte[]]::new($pad)) $pad
        }
        & $write ([byte[]]::new(1024)) 1024   # two zero blocks end the archive
        $size = $stream.Length
    } finally {
        $stream.Dispose(); $rng.Dispose(); if ($source) { $source.Dispose() }
    }
    $hex = [Convert]::ToHexString($hash.GetHashAndReset()).ToLowerInvariant()
    Move-Item -LiteralPath $tmp -Destination (Join-Path $Directory $hex) -Force
    [pscustomobject]@{ Hex = $hex; Size = $size }
}

function Write-JsonBlob([string] $Directory, [string] $Json) {
    $bytes = [Text.Encoding]::UTF8.GetBytes($Json)
    $hex = [Convert]::ToHexString([Security.Cryptography.SHA256]::HashData($bytes)).ToLowerInvariant()
    [IO.File]::WriteAllBytes((Join-Path $Directory $hex), $bytes)
    [pscustomobject]@{ Hex = $hex; Size = $bytes.Length; Bytes = $bytes }
}

function New-BenchLayout([string] $Layout) {
    $blobDir = Join-Path $Layout 'blobs/sha256'
    $null = New-Item -ItemType Directory -Force $blobDir
    $layers = for ($i = 1; $i -le $LayerCount; $i++) { New-LayerTar $blobDir "data/layer$i.bin" $LayerBytes -SmallFile:($i -eq 1) }
    Write-BenchImage $Layout $layers
}

function New-EditedBenchLayout([string] $Layout, $Image) {
    <# The bench image after a one-file edit: layer 1's large file has 4 KiB changed in its middle; the other layers are the same files. #>
    $blobDir = Join-Path $Layout 'blobs/sha256'
    $null = New-Item -ItemType Directory -Force $blobDir
    $from = Join-Path $script:ImageLayout "blobs/sha256/$($Image.Layers[0].Hex)"
    $layers = @(New-LayerTar $blobDir 'data/layer1.bin' $LayerBytes -SmallFile -EditOf $from)
    foreach ($l in $Image.Layers | Select-Object -Skip 1) {
        $null = New-Item -ItemType HardLink -Path (Join-Path $blobDir $l.Hex) -Target (Join-Path $script:ImageLayout "blobs/sha256/$($l.Hex)")
        $layers += $l
    }
    Write-BenchImage $Layout $layers
}

function Write-BenchImage([string] $Layout, $Layers) {
    $blobDir = Join-Path $Layout 'blobs/sha256'
    $layers = $Layers
    $config = [ordered]@{
        architecture = 'amd64'; os = 'linux'
        config       = [ordered]@{ Cmd = @('/bin/sh') }
        rootfs       = [ordered]@{ type = 'layers'; diff_ids = @($layers | ForEach-Object { "sha256:$($_.Hex)" }) }
    } | ConvertTo-Json -Depth 5 -Compress
    $configBlob = Write-JsonBlob $blobDir $config
    $manifest = [ordered]@{
        schemaVersion = 2
        mediaType     = 'application/vnd.oci.image.manifest.v1+json'
        config        = [ordered]@{ mediaType = 'application/vnd.oci.image.config.v1+json'; digest = "sha256:$($configBlob.Hex)"; size = $configBlob.Size }
        layers        = @($layers | ForEach-Object { [ordered]@{ mediaType = 'application/vnd.oci.image.layer.v1.tar'; digest = "sha256:$($_.Hex)"; size = $_.Size } })
    } | ConvertTo-Json -Depth 5 -Compress
    $manifestBlob = Write-JsonBlob $blobDir $manifest
    $index = [ordered]@{
        schemaVersion = 2
        mediaType     = 'application/vnd.oci.image.index.v1+json'
        manifests     = @([ordered]@{
                mediaType   = 'application/vnd.oci.image.manifest.v1+json'; digest = "sha256:$($manifestBlob.Hex)"; size = $manifestBlob.Size
                annotations = [ordered]@{ 'org.opencontainers.image.ref.name' = 'v1' }
            })
    } | ConvertTo-Json -Depth 5 -Compress
    [IO.File]::WriteAllText((Join-Path $Layout 'index.json'), $index)
    [IO.File]::WriteAllText((Join-Path $Layout 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}')
    [pscustomobject]@{
        Layers   = @($layers)
        Config   = $configBlob
        Manifest = $manifestBlob
        # the 5 blob files curl uploads: 4 layers + config
        Files    = @(@($layers) + $configBlob | ForEach-Object { [pscustomobject]@{ Hex = $_.Hex; Path = Join-Path $blobDir $_.Hex; Size = $_.Size } })
    }
}

function New-BenchLocalStore([string] $Path) {
    # A local reference names an existing store at any depth, but one that does not exist yet is the FIRST path
    # component (local:///work/.../store/bench:v1 would write a store at /work, image 'work/.../store/bench'), as the
    # Go s3lo reads it. A directory holding blobs/sha256 is an existing store, so the bench makes its stores first.
    $null = New-Item -ItemType Directory -Force (Join-Path $Path 'blobs/sha256')
    $Path
}

function Assert-LayoutHasLayers([string] $Layout) {
    # A saved/copied layout must hold every layer blob, at full size (else we timed a no-op).
    foreach ($l in $script:Image.Layers) {
        $f = Get-Item -LiteralPath (Join-Path $Layout "blobs/sha256/$($l.Hex)") -ErrorAction Ignore
        if (-not $f -or $f.Length -ne $l.Size) { throw "output $Layout lacks layer sha256:$($l.Hex) at $($l.Size) bytes" }
    }
}

#endregion

#region S3 server

function Get-FreeTcpPort {
    $listener = [Net.Sockets.TcpListener]::new([Net.IPAddress]::Loopback, 0)
    try { $listener.Start(); $listener.LocalEndpoint.Port } finally { $listener.Stop() }
}

function Invoke-WithRgwEnvironment([hashtable] $Environment, [scriptblock] $Script) {
    $saved = @{}
    foreach ($k in $Environment.Keys) { $saved[$k] = [Environment]::GetEnvironmentVariable($k); [Environment]::SetEnvironmentVariable($k, $Environment[$k]) }
    try { & $Script } finally { foreach ($k in $saved.Keys) { [Environment]::SetEnvironmentVariable($k, $saved[$k]) } }
}

function Invoke-S3Curl([string] $Method, [string] $Path) {
    $r = Invoke-Process curl @('-sS', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '60', '-X', $Method,
        '--aws-sigv4', 'aws:amz:us-east-1:s3', '--user', "${AccessKey}:${SecretKey}", '-H', 'x-amz-content-sha256: UNSIGNED-PAYLOAD',
        "$script:Endpoint$Path")
    if ($r.ExitCode -ne 0) { throw "curl $Method $Path failed: $($r.StdErr)" }
    [int]$r.StdOut
}

function New-Bucket([string] $Name) {
    $status = Invoke-S3Curl PUT "/$Name"
    if ($status -ne 200) { throw "CreateBucket $Name answered HTTP $status" }
}

#endregion

# ---------------------------------------------------------------------------------------------
$script:RunDir = $null
$script:Proxy = $null
$script:Azurite = $null
$privateModuleDir = $null
$rgwEnvironment = $null
$failures = [Collections.Generic.List[string]]::new()
$exitCode = 0
try {
    # --- module: a private copy, so a rebuild of out/S3lo cannot touch the loaded DLLs ---
    $ModulePath = (Resolve-Path -LiteralPath $ModulePath).ProviderPath
    $privateModuleDir = Join-Path ([IO.Path]::GetTempPath()) "s3lo-bench-module-$([guid]::NewGuid().ToString('N').Substring(0, 8))"
    $null = New-Item -ItemType Directory $privateModuleDir
    Copy-Item -Recurse -LiteralPath (Split-Path -Parent $ModulePath) -Destination (Join-Path $privateModuleDir 'S3lo')
    $script:PrivateManifest = Join-Path $privateModuleDir "S3lo/$(Split-Path -Leaf $ModulePath)"
    $moduleInfo = Test-ModuleManifest -Path $script:PrivateManifest
    $dll = Get-Item -LiteralPath (Join-Path $privateModuleDir 'S3lo/S3lo.PowerShell.dll')

    # pwsh as a dotnet tool runs as 'dotnet pwsh.dll'; an installed pwsh runs as itself.
    $script:PwshHost = [Environment]::ProcessPath
    $script:PwshPrefix = if ([IO.Path]::GetFileNameWithoutExtension($script:PwshHost) -eq 'dotnet') { @(Join-Path $PSHOME 'pwsh.dll') } else { @() }

    $null = New-Item -ItemType Directory -Force $WorkDirectory
    $script:RunDir = Join-Path (Resolve-Path -LiteralPath $WorkDirectory).ProviderPath "run-$(Get-Date -Format 'yyyyMMdd-HHmmss')-$PID"
    $null = New-Item -ItemType Directory $script:RunDir

    $cpu = ((Get-Content /proc/cpuinfo | Where-Object { $_ -match '^model name' } | Select-Object -First 1) -replace '^model name\s*:\s*', '')
    $memGiB = [Math]::Round(([long]((Get-Content /proc/meminfo | Select-Object -First 1) -replace '\D', '')) / 1MB, 1)
    $fs = ((Invoke-Checked df @('-T', $script:RunDir)) -split "`n")[1] -split '\s+'
    Write-Host "S3lo benchmark  $(Get-Date -Format 'yyyy-MM-dd HH:mm:ss zzz')"
    Write-Host "  machine : $([Environment]::ProcessorCount) cores ($cpu), $memGiB GiB RAM, Linux $([Environment]::OSVersion.Version), work dir on $($fs[1]) ($($fs[0]))"
    Write-Host "  S3lo    : $($moduleInfo.Version) (S3lo.PowerShell.dll $($dll.LastWriteTimeUtc.ToString('yyyy-MM-dd HH:mm:ss'))Z, sha256 $((Get-FileHash -LiteralPath $dll.FullName).Hash.Substring(0, 12).ToLowerInvariant())), copied from $(Split-Path -Parent $ModulePath)"
    $skopeoVersion = (Invoke-Checked skopeo @('--version')).Trim()
    $curlVersion = ((Invoke-Checked curl @('--version')) -split "`n")[0] -replace ' \(.*$', ''
    $cephVersion = ((Invoke-Checked radosgw @('--version')) -split "`n")[0] -replace ' \(.*\)', ''
    Write-Host "  tools   : pwsh $($PSVersionTable.PSVersion), $skopeoVersion, $curlVersion, $cephVersion (RGW, memstore OSD)"
    Write-Host "  image   : $SizeMB MiB in $LayerCount uncompressed layers; $Repeat runs per measurement, fastest counts"
    Write-Host "  measure : $($Operation -join ', ')"

    # --- 1. the test image ---
    Write-Step "generating the image ($SizeMB MiB, $LayerCount layers)"
    $layout = Join-Path $script:RunDir 'image-layout'
    $clock = [Diagnostics.Stopwatch]::StartNew()
    $script:ImageLayout = $layout
    $script:Image = New-BenchLayout $layout
    Write-Host ("  OCI layout written in {0:F1} s: {1}" -f $clock.Elapsed.TotalSeconds, (($script:Image.Layers | ForEach-Object { $_.Hex.Substring(0, 12) }) -join ', '))
    if ($Operation -contains 'edit-re-push') {
        $clock.Restart()
        $editedLayout = Join-Path $script:RunDir 'edited-layout'
        $null = New-EditedBenchLayout $editedLayout $script:Image
        Write-Host ("  the one-file edit (4 KiB in the middle of layer 1's large file) written in {0:F1} s" -f $clock.Elapsed.TotalSeconds)
    }
    $archive = Join-Path $script:RunDir 'image.tar'
    if ($NeedLocal) {
        $clock.Restart()
        $null = Invoke-Checked skopeo @('--insecure-policy', 'copy', '--quiet', "oci:${layout}:v1", "docker-archive:${archive}:bench:v1")
        Write-Host ("  docker-archive written by skopeo in {0:F1} s ({1:N0} bytes)" -f $clock.Elapsed.TotalSeconds, (Get-Item -LiteralPath $archive).Length)
    }

    # --- the S3 server ---
    if ($NeedS3) {
        Write-Step 'starting Ceph RGW on 127.0.0.1'
        $port = Get-FreeTcpPort
        $script:Endpoint = "http://127.0.0.1:$port"
        $sslPort = Get-FreeTcpPort
        $script:HttpsEndpoint = "https://127.0.0.1:$sslPort"
        $rgwEnvironment = @{
            RGW_BASE            = Join-Path ([IO.Path]::GetTempPath()) "s3lo-bench-rgw-$port"   # short: Ceph admin socket paths
            RGW_PORT            = "$port"
            RGW_SSL_PORT        = "$sslPort"   # the S3 push (d.) goes over HTTPS, as to AWS; d2. over plain HTTP
            RGW_MON_V2_PORT     = "$(Get-FreeTcpPort)"
            RGW_MON_V1_PORT     = "$(Get-FreeTcpPort)"
            RGW_ACCESS_KEY      = $AccessKey
            RGW_SECRET_KEY      = $SecretKey
            RGW_STORAGE_CLASSES = 'INTELLIGENT_TIERING'
            # memstore keeps every object in RAM (the OSD's memory grows well past it): room for 3 x Repeat uploads of the
            # image (S3lo, curl, chunked), plus slack; a full memstore makes RGW hold writes rather than refuse them. The
            # plain-HTTP S3 push (s3-push-http) is therefore not in the default set: run it on its own.
            RGW_MEMSTORE_BYTES  = "$([long]$SizeMB * 1MB * 3 * $Repeat + 2GB)"
    }
    Invoke-WithRgwEnvironment $rgwEnvironment { $null = Invoke-Checked bash @((Join-Path $RgwScripts 'start-rgw.sh')) }
    # the self-signed certificate start-rgw.sh made for 127.0.0.1: S3lo's worker trusts it through SSL_CERT_FILE, curl through --cacert
    $script:RgwCertificate = Join-Path $rgwEnvironment.RGW_BASE 'tls/cert.pem'
    Write-Host "  S3 endpoint $script:Endpoint and $script:HttpsEndpoint"
    }
    # --- the file read goes through a counting proxy (bench/count-proxy.py): requests and bytes fetched, counted apart from S3lo ---
    if ($Operation -contains 's3-read-file') {
        $proxyPort = Get-FreeTcpPort
        $script:Proxy = Start-Process python3 -ArgumentList (Join-Path $PSScriptRoot 'count-proxy.py'), $proxyPort, $port -PassThru
        $script:ViaProxy = "http://127.0.0.1:$proxyPort"
        for ($i = 0; $i -lt 100; $i++) { try { $null = Invoke-RestMethod "$script:ViaProxy/__reset"; break } catch { Start-Sleep -Milliseconds 100 } }
    }

    # --- the Azure server: Azurite as the tests start it (tests/servers/start-azurite.sh, in memory, 127.0.0.1) ---
    if ($NeedAzure) {
        Write-Step 'starting Azurite on 127.0.0.1'
        $env:S3LO_MODULE_PATH = $script:PrivateManifest   # the test helpers load the Azure SDK from the module's dependencies
        Import-Module (Join-Path $PSScriptRoot '../tests/Pester/TestHelpers.psm1') -Force
        Import-Module (Join-Path $PSScriptRoot '../tests/Pester/StoreHelpers.psm1') -Force
        # Azurite keeps every blob in memory: room for both tools' uploads of every round, plus slack
        $env:AZURITE_MEMORY_MB = "$([Math]::Max(2048, 2 * $Repeat * $SizeMB + 1024))"
        $script:Azurite = Start-TestAzureServer
        Write-Host "  Azure endpoint $($script:Azurite.EndpointUrl)"
    }
    # --- durability: a library that makes fsync/fdatasync/syncfs no-ops, preloaded into one of the two pushes ---
    if ($Operation -contains 'durability') {
        $noSyncSource = Join-Path $script:RunDir 'nosync.c'
        $script:NoSync = Join-Path $script:RunDir 'nosync.so'
        Set-Content -LiteralPath $noSyncSource -Value 'int fsync(int fd) { (void)fd; return 0; } int fdatasync(int fd) { (void)fd; return 0; } int syncfs(int fd) { (void)fd; return 0; }'
        $null = Invoke-Checked gcc @('-shared', '-fPIC', '-O2', '-o', $script:NoSync, $noSyncSource)
    }

    # --- 2. measurements ---
    $results = [Collections.Generic.List[object]]::new()
    $layerFiles = @($script:Image.Layers | ForEach-Object { Join-Path $layout "blobs/sha256/$($_.Hex)" })
    # what the bare upload sends (4 layers + config); S3lo sends these and the few KB of manifest and tag files
    $s3BlobBytes = ($script:Image.Files | Measure-Object Size -Sum).Sum
    $syncAndRecord = {
        param($Measurement)
        $null = Invoke-Process sync
        $results.Add($Measurement)
        $state = if ($Measurement.Ok) { 'ok' } else { "FAILED: $($Measurement.Error)" }
        $seconds = if ($null -ne $Measurement.Seconds) { '{0,7:F2} s' -f $Measurement.Seconds } else { '      - s' }
        $peak = if ($Measurement.PeakBytes) { '{0,6:F0} MB' -f ($Measurement.PeakBytes / 1e6) } else { '     - MB' }
        Write-Host ("  {0,-9} {1,-8} {2} {3}  {4}" -f $Measurement.Op, $Measurement.Tool, $seconds, $peak, $state)
    }

    for ($round = 1; $round -le $Repeat; $round++) {
        $referenceFirst = ($round % 2) -eq 0
        Write-Step "round $round of $Repeat ($(if ($referenceFirst) { 'reference tools first' } else { 'S3lo first' }))"
        $null = Invoke-Process sync
        $d = Join-Path $script:RunDir "round$round"
        $null = New-Item -ItemType Directory $d
        $store = New-BenchLocalStore (Join-Path $d 'store')
        $skopeoA = Join-Path $d 'skopeo-a'
        $chunkStore = New-BenchLocalStore (Join-Path $d 'chunk-store')

        $pairs = @(
            @{  # a. push docker-archive -> local (the store exists already: see New-BenchLocalStore)
                Op   = 'push'
                S3lo = { Measure-S3lo 'push' Push -Chunked false -Path $archive -Reference "local://$store/bench:v1" -Check { param($o) if ($o.BytesUploaded -lt $SizeMB * 1MB) { throw "uploaded only $($o.BytesUploaded) bytes" } } }
                Ref  = { Measure-Native 'skopeo' 'push' skopeo @('--insecure-policy', 'copy', '--quiet', '--dest-oci-accept-uncompressed-layers', "docker-archive:$archive", "oci:${skopeoA}:v1") -Check { Assert-LayoutHasLayers $skopeoA } }
            }
            @{  # b. save local -> OCI layout
                Op   = 'save'
                S3lo = { $out = Join-Path $d 'save-s3lo'; Measure-S3lo 'save' Save -Path $out -Reference "local://$store/bench:v1" -Check { Assert-LayoutHasLayers $out } }
                Ref  = { $out = Join-Path $d 'skopeo-b'; Measure-Native 'skopeo' 'save' skopeo @('--insecure-policy', 'copy', '--quiet', '--dest-oci-accept-uncompressed-layers', "oci:${layout}:v1", "oci:${out}:v1") -Check { Assert-LayoutHasLayers $out } }
            }
            @{  # c. unchanged re-push into the same store
                Op   = 're-push'
                S3lo = { Measure-S3lo 're-push' Push -Chunked false -Path $archive -Reference "local://$store/bench:v1" }
                Ref  = { Measure-Native 'skopeo' 're-push' skopeo @('--insecure-policy', 'copy', '--quiet', '--dest-oci-accept-uncompressed-layers', "docker-archive:$archive", "oci:${skopeoA}:v1") }
            }
            @{  # d. push the OCI layout to S3 over HTTPS vs curl PUT of the same 5 blobs to the same server
                Op   = 's3-push'
                S3lo = {
                    $bucket = "bench-s3lo-$round"; New-Bucket $bucket
                    Measure-S3lo 's3-push' Push -Chunked false -Path $layout -Reference "s3://$bucket/bench:v1" -S3 -EndpointUrl $script:HttpsEndpoint `
                        -Environment @{ SSL_CERT_FILE = $script:RgwCertificate } -Check { param($o) if ($o.BytesUploaded -lt $SizeMB * 1MB) { throw "uploaded only $($o.BytesUploaded) bytes" } }
                }
                Ref  = { Measure-CurlS3Push 's3-push' "bench-curl-$round" $script:HttpsEndpoint }
            }
            @{  # d2. the same over plain HTTP, where S3lo signs each blob with its digest and the server hashes it again
                Op   = 's3-push-http'
                S3lo = {
                    $bucket = "bench-s3lo-http-$round"; New-Bucket $bucket
                    Measure-S3lo 's3-push-http' Push -Chunked false -Path $layout -Reference "s3://$bucket/bench:v1" -S3 -Check { param($o) if ($o.BytesUploaded -lt $SizeMB * 1MB) { throw "uploaded only $($o.BytesUploaded) bytes" } }
                }
                Ref  = { Measure-CurlS3Push 's3-push-http' "bench-curl-http-$round" $script:Endpoint }
            }
            @{  # d'. push the OCI layout to Azurite vs curl Put Blob (SAS) of the same 5 blobs to the same server
                Op   = 'azure-push'
                S3lo = {
                    $container = "bench-s3lo-$round"; New-TestAzureContainer -Server $script:Azurite -Name $container
                    Measure-S3lo 'azure-push' Push -Chunked false -Path $layout -Reference "az://$container/bench:v1" -Azure -Check { param($o) if ($o.BytesUploaded -lt $SizeMB * 1MB) { throw "uploaded only $($o.BytesUploaded) bytes" } }
                }
                Ref  = {
                    $container = "bench-curl-$round"; New-TestAzureContainer -Server $script:Azurite -Name $container
                    $client = Get-TestAzureContainerClient -Server $script:Azurite -Container $container
                    $sas = $client.GenerateSasUri([Azure.Storage.Sas.BlobContainerSasPermissions]'Create, Write', [DateTimeOffset]::UtcNow.AddHours(2))
                    $curlArgs = @('-sS', '--fail', '--parallel', '--parallel-max', '4', '-H', 'x-ms-blob-type: BlockBlob', '-w', '%{http_code}\n')
                    foreach ($f in $script:Image.Files) { $curlArgs += @('-T', $f.Path, "$($sas.GetLeftPart([UriPartial]::Path))/blobs/sha256/$($f.Hex)$($sas.Query)") }
                    Measure-Native 'curl' 'azure-push' curl $curlArgs -Check {
                        param($r)
                        $codes = @($r.StdOut -split "`n" | Where-Object { $_ })
                        if ($codes.Count -ne $script:Image.Files.Count -or @($codes | Where-Object { $_ -ne '201' })) { throw "curl Put Blob statuses: $($codes -join ' ')" }
                    }
                }
            }
            @{  # f. chunked push of the OCI layout to a local store vs zstd -3 -T0 + SHA-256 over the same bytes
                Op   = 'chunked-push'
                S3lo = { Measure-S3lo 'chunked-push' Push -Chunked true -Path $layout -Reference "local://$chunkStore/bench:v1" -Check { param($o) if ($o.ChunksUploaded -lt 1) { throw 'no chunk uploaded' } } }
                Ref  = {
                    $out = Join-Path $d 'zstd-floor.zst'
                    Measure-Native 'zstd' 'chunked-push' bash (@('-c', 'set -o pipefail; out=$1; shift; cat "$@" | tee >(openssl dgst -sha256 > /dev/null) | zstd -3 -T0 -q -c > "$out"', 'floor', $out) + $layerFiles)
                }
            }
            @{  # g. the same chunked push again, unchanged, into the same store (against the first push: a ratio of times)
                Op   = 'chunked-re-push'
                S3lo = { Measure-S3lo 'chunked-re-push' Push -Chunked true -Path $layout -Reference "local://$chunkStore/bench:v1" -Check { param($o) if ($o.BytesUploaded -ne 0) { throw "uploaded $($o.BytesUploaded) bytes" } } }
                Ref  = $null
            }
            @{  # i. the image after a one-file edit (4 KiB in the middle of a 256 MiB file), chunked into the store holding the first push
                Op   = 'edit-re-push'
                S3lo = { Measure-S3lo 'edit-re-push' Push -Chunked true -Path $editedLayout -Reference "local://$chunkStore/bench:v2" -Check { param($o) if ($o.ChunksUploaded -lt 1) { throw 'the edit uploaded no chunk' } } }
                Ref  = $null
            }
            @{  # f'. the chunked push to S3: its time and peak memory (no reference)
                Op   = 's3-chunked-push'
                S3lo = { $bucket = "bench-chunked-$round"; New-Bucket $bucket; Measure-S3lo 's3-chunked-push' Push -Chunked true -Path $layout -Reference "s3://$bucket/bench:v1" -S3 -Check { param($o) if ($o.ChunksUploaded -lt 1) { throw 'no chunk uploaded' } } }
                Ref  = $null
            }
            @{  # j. one small file read out of the chunked image on S3, through the counting proxy: the bytes fetched
                Op   = 's3-read-file'
                S3lo = {
                    $null = Invoke-RestMethod "$script:ViaProxy/__reset"
                    $expected = [Convert]::ToHexString([Security.Cryptography.SHA256]::HashData($SmallFileBytes)).ToLowerInvariant()
                    $m = Measure-S3lo 's3-read-file' ReadFile -Path "/$SmallFilePath" -Reference "s3://bench-chunked-$round/bench:v1" -S3 -EndpointUrl $script:ViaProxy -Check {
                        param($o) if ($o.Sha256 -ne $expected) { throw "read $($o.Length) bytes that are not the small file" } }
                    $counts = Invoke-RestMethod "$script:ViaProxy/__count"
                    $m | Add-Member Fetched ([long](Invoke-RestMethod "$script:ViaProxy/__bytes"))
                    $m | Add-Member Requests ([long](($counts.PSObject.Properties.Value | Measure-Object -Sum).Sum))
                    $m
                }
                Ref  = $null
            }
            @{  # h. durability: the whole push to a fresh local store, as it is (fsync before each rename) and with fsync a no-op
                Op   = 'durability'
                S3lo = { $s = New-BenchLocalStore (Join-Path $d "durable-$(Get-Random)"); Measure-S3lo 'durability' Push -Chunked false -Path $layout -Reference "local://$s/bench:v1" }
                Ref  = { $s = New-BenchLocalStore (Join-Path $d "nosync-$(Get-Random)"); Measure-S3lo 'durability' Push -Tool 'nofsync' -Chunked false -Path $layout -Reference "local://$s/bench:v1" -Environment @{ LD_PRELOAD = $script:NoSync } }
            }
            @{  # h'. the same for the chunked push (two fsyncs per chunk: its file, then its directory)
                Op   = 'durability-chunked'
                S3lo = { $s = New-BenchLocalStore (Join-Path $d "durable-c-$(Get-Random)"); Measure-S3lo 'durability-chunked' Push -Chunked true -Path $layout -Reference "local://$s/bench:v1" }
                Ref  = { $s = New-BenchLocalStore (Join-Path $d "nosync-c-$(Get-Random)"); Measure-S3lo 'durability-chunked' Push -Tool 'nofsync' -Chunked true -Path $layout -Reference "local://$s/bench:v1" -Environment @{ LD_PRELOAD = $script:NoSync } }
            }
        )
        # the chunked re-push needs the chunked push before it, in every round
        if (($Operation -contains 'chunked-re-push' -or $Operation -contains 'edit-re-push') -and $Operation -notcontains 'chunked-push') {
            $m = & ($pairs | Where-Object { $_.Op -eq 'chunked-push' }).S3lo
            if (-not $m.Ok) { throw "the unrecorded chunked push that fills the store failed: $($m.Error)" }
        }
        # the file read needs the chunked image on S3
        if ($Operation -contains 's3-read-file' -and $Operation -notcontains 's3-chunked-push') {
            $m = & ($pairs | Where-Object { $_.Op -eq 's3-chunked-push' }).S3lo
            if (-not $m.Ok) { throw "the unrecorded chunked push to S3 that the file read needs failed: $($m.Error)" }
        }
        # save and re-push read and rewrite what push wrote: when push is not measured, it runs here unrecorded.
        if ($Operation -notcontains 'push' -and ($Operation -contains 'save' -or $Operation -contains 're-push')) {
            $pushPair = $pairs | Where-Object { $_.Op -eq 'push' }
            foreach ($which in 'S3lo', 'Ref') {
                $m = & $pushPair[$which]
                if (-not $m.Ok) { throw "the unrecorded push that fills the store failed ($($m.Tool)): $($m.Error)" }
            }
        }
        foreach ($pair in $pairs | Where-Object { $Ops -contains $_.Op }) {
            $order = if ($referenceFirst) { 'Ref', 'S3lo' } else { 'S3lo', 'Ref' }
            foreach ($which in $order) { if ($pair[$which]) { & $syncAndRecord (& $pair[$which]) } }
        }

        # e. the floor: read + SHA-256 + write the 4 layers, 4 in parallel. openssl, not sha256sum: coreutils'
        # sha256sum does not use the CPU's SHA extensions (~350 MB/s here vs ~1.3 GB/s), .NET (OpenSSL) does.
        if ($Operation -contains 'floor') {
            $floorDir = Join-Path $d 'floor'
            $null = New-Item -ItemType Directory $floorDir
            $floorScript = 'dst=$1; shift; pids=; for f in "$@"; do ( set -o pipefail; tee "$dst/${f##*/}" < "$f" | openssl dgst -sha256 > /dev/null ) & pids="$pids $!"; done; rc=0; for p in $pids; do wait $p || rc=1; done; exit $rc'
            & $syncAndRecord (Measure-S3lo 'floor' Floor -Tool 'floor' -Path $floorDir -Source $layerFiles)
            Remove-Item -LiteralPath $floorDir -Recurse -Force
            $null = New-Item -ItemType Directory $floorDir
            & $syncAndRecord (Measure-Native 'floor-sh' 'floor' bash (@('-c', $floorScript, 'floor', $floorDir) + $layerFiles))
        }

        # the S3lo memory baseline: a pwsh that only imports the module
        & $syncAndRecord (Measure-S3lo 'baseline' Import)

        Remove-Item -LiteralPath $d -Recurse -Force
    }

    # --- 3. the table ---
    function Get-Best([string] $Tool, [string] $Op) {
        $all = @($results | Where-Object { $_.Tool -eq $Tool -and $_.Op -eq $Op })
        $ok = @($all | Where-Object Ok)
        if (-not $all) { return $null }
        if ($ok.Count -lt $all.Count) {
            return [pscustomobject]@{ Ok = $false; Seconds = $null; ProcessSeconds = $null; PeakBytes = $null; Output = $null; Error = @($all | Where-Object { -not $_.Ok })[0].Error }
        }
        $best = $ok | Sort-Object Seconds | Select-Object -First 1
        [pscustomobject]@{
            Ok             = $true
            Seconds        = $best.Seconds
            ProcessSeconds = ($ok | Measure-Object ProcessSeconds -Minimum).Minimum
            PeakBytes      = ($ok | Measure-Object PeakBytes -Maximum).Maximum   # the worse of the runs
            Output         = $best.Output
            Error          = $null
        }
    }
    foreach ($r in $results | Where-Object { -not $_.Ok }) { $failures.Add("$($r.Op) ($($r.Tool)): $($r.Error)") }

    $baseline = Get-Best 'S3lo' 'baseline'
    $baselineBytes = if ($baseline -and $baseline.Ok) { ($results | Where-Object { $_.Op -eq 'baseline' -and $_.Ok } | Measure-Object PeakBytes -Minimum).Minimum } else { $null }
    # the floor for the ratios: the faster of the two floor variants (a lower bound is the lowest one)
    $floorNet = Get-Best 'floor' 'floor'
    $floorSh = Get-Best 'floor-sh' 'floor'
    $floor = @($floorNet, $floorSh | Where-Object { $_ -and $_.Ok } | Sort-Object Seconds) | Select-Object -First 1
    $rows = @(
        @{ Op = 'push'; Label = 'a. push docker-archive -> local'; Ref = 'skopeo' }
        @{ Op = 'save'; Label = 'b. save local -> OCI layout'; Ref = 'skopeo' }
        @{ Op = 're-push'; Label = 'c. re-push unchanged (local)'; Ref = 'skopeo' }
        @{ Op = 's3-push'; Label = 'd. push OCI layout -> S3 (HTTPS)'; Ref = 'curl' }
        @{ Op = 's3-push-http'; Label = 'd2. the same over plain HTTP'; Ref = 'curl' }
        @{ Op = 'azure-push'; Label = "d'. push OCI layout -> Azurite"; Ref = 'curl' }
        @{ Op = 'chunked-push'; Label = 'f. chunked push layout -> local'; Ref = 'zstd' }
        @{ Op = 'chunked-re-push'; Label = 'g. chunked re-push unchanged'; Ref = 'none' }
        @{ Op = 'edit-re-push'; Label = 'i. one-file edit re-push (local)'; Ref = 'none' }
        @{ Op = 's3-chunked-push'; Label = "f'. chunked push layout -> S3"; Ref = 'none' }
        @{ Op = 's3-read-file'; Label = 'j. read one file, chunked on S3'; Ref = 'none' }
        @{ Op = 'durability'; Label = 'h. push local, fsync vs no-op'; Ref = 'nofsync' }
        @{ Op = 'durability-chunked'; Label = "h'. chunked push, fsync vs no-op"; Ref = 'nofsync' }
    )
    $fmtS = { param($v) if ($null -eq $v) { '-' } else { '{0:F2}' -f $v } }
    $fmtR = { param($a, $b) if ($null -eq $a -or $null -eq $b -or $b -le 0) { '-' } else { '{0:F2}' -f ($a / $b) } }
    $fmtM = { param($v) if ($null -eq $v) { '-' } else { '{0:F0}' -f ($v / 1e6) } }
    $line = '{0,-32} {1,8} {2,8} {3,-7} {4,8} {5,9} {6,9} {7,9} {8,6} {9,9}'
    Write-Host ''
    Write-Host "Results ($SizeMB MiB image; times in s = fastest of $Repeat; memory = peak RSS in MB (10^6 bytes), worst of $Repeat)"
    Write-Host ($line -f 'operation', 'S3lo s', 'ref s', 'ref', 'S3lo/ref', 'S3lo/floor', 'S3lo MB', 'above bl', 'ref MB', 'S3lo proc s')
    Write-Host ('-' * 121)
    $summary = @{}
    foreach ($row in $rows) {
        $s = Get-Best 'S3lo' $row.Op
        $ref = Get-Best $row.Ref $row.Op
        $summary[$row.Op] = @{ S3lo = $s; Ref = $ref }
        if ($Ops -notcontains $row.Op) { continue }
        $sSec = if ($s -and $s.Ok) { $s.Seconds } else { $null }
        $rSec = if ($ref -and $ref.Ok) { $ref.Seconds } else { $null }
        $fSec = if ($floor -and $floor.Ok) { $floor.Seconds } else { $null }
        $sPeak = if ($s -and $s.Ok) { $s.PeakBytes } else { $null }
        $above = if ($null -ne $sPeak -and $null -ne $baselineBytes) { $sPeak - $baselineBytes } else { $null }
        $sCol = if ($s -and -not $s.Ok) { 'FAILED' } else { & $fmtS $sSec }
        $rCol = if ($ref -and -not $ref.Ok) { 'FAILED' } else { & $fmtS $rSec }
        Write-Host ($line -f $row.Label, $sCol, $rCol, $row.Ref, (& $fmtR $sSec $rSec), (& $fmtR $sSec $fSec), (& $fmtM $sPeak), (& $fmtM $above),
            (& $fmtM $(if ($ref -and $ref.Ok) { $ref.PeakBytes })), (& $fmtS $(if ($s -and $s.Ok) { $s.ProcessSeconds })))
        if ($row.Op -in 's3-push', 's3-push-http', 'azure-push') {
            # the throughput of the same 5 files to the same server; the ratio is S3lo's over the bare upload's (= ref s / S3lo s)
            $fmtT = { param($sec) if ($null -eq $sec -or $sec -le 0) { '-' } else { '{0:F0}' -f ($s3BlobBytes / $sec / 1e6) } }
            Write-Host ($line -f '   throughput MB/s, S3lo/bare', (& $fmtT $sSec), (& $fmtT $rSec), $row.Ref,
                $(if ($null -ne $sSec -and $null -ne $rSec -and $sSec -gt 0) { '{0:F2}x' -f ($rSec / $sSec) } else { '-' }), '', '', '', '', '')
        }
    }
    if ($Operation -contains 'floor') {
        Write-Host ($line -f 'e. floor: .NET read+SHA256+write', '-', (& $fmtS $(if ($floorNet -and $floorNet.Ok) { $floorNet.Seconds })), '.NET', '-', '-', '-', '-',
            '-', (& $fmtS $(if ($floorNet -and $floorNet.Ok) { $floorNet.ProcessSeconds })))
        Write-Host ($line -f '   (tee|openssl sha256, x4)', '-', (& $fmtS $(if ($floorSh -and $floorSh.Ok) { $floorSh.Seconds })), 'bash', '-', '-', '-', '-',
            (& $fmtM $(if ($floorSh -and $floorSh.Ok) { $floorSh.PeakBytes })), '-')
    }
    Write-Host ($line -f 'baseline: pwsh + Import-Module', '-', '-', '', '-', '-', (& $fmtM $baselineBytes), '0', '-', (& $fmtS $(if ($baseline -and $baseline.Ok) { $baseline.ProcessSeconds })))
    $rp = $summary['re-push'].S3lo
    if ($rp -and $rp.Ok) { Write-Host "re-push result: BytesUploaded = $($rp.Output.BytesUploaded), BlobsUploaded = $($rp.Output.BlobsUploaded), BlobsSkipped = $($rp.Output.BlobsSkipped)" }
    Write-Host "S3lo/floor divides by the faster of the two floor rows (4 layers read, hashed and written, 4 in parallel)."
    Write-Host "S3lo s = the cmdlet call inside its worker; S3lo proc s = that worker's whole process (pwsh start + Import-Module + call)."
    Write-Host "skopeo copies with --dest-oci-accept-uncompressed-layers (layers stored as they are, as S3lo does)."
    Write-Host "ref s = the whole tool process (skopeo, curl) under /usr/bin/time; ref MB = its %M. 'above bl' = S3lo MB minus the baseline."
    Write-Host ("S3 throughput = the 5 blob files ({0:N0} bytes) over the time; S3lo/bare > 1 is faster than the bare curl --parallel upload." -f $s3BlobBytes)

    # --- verdict ---
    Write-Host ''
    Write-Host 'Verdict'
    $verdict = {
        param([string] $Target, $Met, [string] $Detail)
        $state = if ($null -eq $Met) { 'NOT MEASURED' } elseif ($Met) { 'MET' } else { 'MISSED' }
        Write-Host ('  {0,-13} {1,-48} {2}' -f $state, $Target, $Detail)
    }
    foreach ($op in 'push', 'save') {
        $p = $summary[$op]
        $target = $SkopeoTargets[$op]
        $label = "$op <= $($target)x skopeo's time"
        if ($Operation -notcontains $op) { & $verdict $label $null 'not run (-Operation)' }
        elseif ($p.S3lo -and $p.S3lo.Ok -and $p.Ref -and $p.Ref.Ok) {
            $ratio = $p.S3lo.Seconds / $p.Ref.Seconds
            & $verdict $label ($ratio -le $target) ('{0:F2} s vs {1:F2} s, ratio {2:F2}' -f $p.S3lo.Seconds, $p.Ref.Seconds, $ratio)
        } else { & $verdict $label $null 'a run failed' }
    }
    if ($Operation -notcontains 're-push') { & $verdict 're-push uploads zero blob bytes' $null 'not run (-Operation)' }
    elseif ($rp -and $rp.Ok) {
        & $verdict 're-push uploads zero blob bytes' ([long]$rp.Output.BytesUploaded -eq 0) "BytesUploaded $($rp.Output.BytesUploaded), BlobsUploaded $($rp.Output.BlobsUploaded)"
    } else { & $verdict 're-push uploads zero blob bytes' $null 'the re-push failed' }
    $peaks = @($results | Where-Object { $_.Tool -eq 'S3lo' -and $_.Op -ne 'baseline' -and $_.Ok })
    if ($peaks) {
        $worst = $peaks | Sort-Object PeakBytes -Descending | Select-Object -First 1
        $aboveText = if ($null -ne $baselineBytes) { ', {0:F0} MB above the {1:F0} MB baseline' -f (($worst.PeakBytes - $baselineBytes) / 1e6), ($baselineBytes / 1e6) } else { '' }
        & $verdict 'S3lo peak memory under 300 MB' ($worst.PeakBytes -lt $PeakMemoryTarget) ('worst {0:F0} MB ({1}){2}' -f ($worst.PeakBytes / 1e6), $worst.Op, $aboveText)
    } else { & $verdict 'S3lo peak memory under 300 MB' $null 'no S3lo run succeeded' }
    # d. S3 push: throughput against the bare parallel upload of the same files to the same server, and its own peak memory
    $s3 = $summary['s3-push']
    $s3Target = ">= $($S3ThroughputTarget)x bare upload throughput (S3 push)"
    $s3MemoryTarget = 'peak memory < 300 MB (S3 push)'
    if ($Operation -notcontains 's3-push') {
        & $verdict $s3Target $null 'not run (-Operation)'
        & $verdict $s3MemoryTarget $null 'not run (-Operation)'
    } elseif ($s3.S3lo -and $s3.S3lo.Ok -and $s3.Ref -and $s3.Ref.Ok) {
        $throughput = $s3.Ref.Seconds / $s3.S3lo.Seconds
        & $verdict $s3Target ($throughput -ge $S3ThroughputTarget) ('{0:F2}x: {1:F0} MB/s vs {2:F0} MB/s (curl --parallel-max 4), {3:F2} s vs {4:F2} s' -f $throughput,
            ($s3BlobBytes / $s3.S3lo.Seconds / 1e6), ($s3BlobBytes / $s3.Ref.Seconds / 1e6), $s3.S3lo.Seconds, $s3.Ref.Seconds)
        $aboveText = if ($null -ne $baselineBytes) { ', {0:F0} MB above the {1:F0} MB baseline' -f (($s3.S3lo.PeakBytes - $baselineBytes) / 1e6), ($baselineBytes / 1e6) } else { '' }
        & $verdict $s3MemoryTarget ($s3.S3lo.PeakBytes -lt $PeakMemoryTarget) ('worst of {0} runs {1:F0} MB{2}' -f $Repeat, ($s3.S3lo.PeakBytes / 1e6), $aboveText)
    } else {
        & $verdict $s3Target $null 'a run failed'
        & $verdict $s3MemoryTarget $null 'a run failed'
    }
    $s3h = $summary['s3-push-http']
    if ($Operation -contains 's3-push-http' -and $s3h.S3lo -and $s3h.S3lo.Ok -and $s3h.Ref -and $s3h.Ref.Ok) {
        Write-Host ('  (info)        S3 push over plain HTTP (each blob signed with its digest, which the server hashes again): {0:F2}x the bare upload, {1:F2} s vs {2:F2} s; peak {3:F0} MB' -f
            ($s3h.Ref.Seconds / $s3h.S3lo.Seconds), $s3h.S3lo.Seconds, $s3h.Ref.Seconds, ($s3h.S3lo.PeakBytes / 1e6))
    }
    # d'. the Azurite push, the same way
    $az = $summary['azure-push']
    $azTarget = ">= $($S3ThroughputTarget)x bare upload throughput (Azure push)"
    if ($Operation -notcontains 'azure-push') { & $verdict $azTarget $null 'not run (-Operation)' }
    elseif ($az.S3lo -and $az.S3lo.Ok -and $az.Ref -and $az.Ref.Ok) {
        $throughput = $az.Ref.Seconds / $az.S3lo.Seconds
        & $verdict $azTarget ($throughput -ge $S3ThroughputTarget) ('{0:F2}x: {1:F0} MB/s vs {2:F0} MB/s (curl Put Blob --parallel-max 4), {3:F2} s vs {4:F2} s; peak {5:F0} MB' -f $throughput,
            ($s3BlobBytes / $az.S3lo.Seconds / 1e6), ($s3BlobBytes / $az.Ref.Seconds / 1e6), $az.S3lo.Seconds, $az.Ref.Seconds, ($az.S3lo.PeakBytes / 1e6))
    } else { & $verdict $azTarget $null 'a run failed' }
    # f./g. the chunked push against the zstd floor, its peak memory, and the unchanged re-push against it
    $cp = $summary['chunked-push']
    if ($Operation -notcontains 'chunked-push') { & $verdict "chunked push <= $($ChunkedFloorTarget)x zstd -3 -T0 + SHA-256" $null 'not run (-Operation)' }
    elseif ($cp.S3lo -and $cp.S3lo.Ok -and $cp.Ref -and $cp.Ref.Ok) {
        $ratio = $cp.S3lo.Seconds / $cp.Ref.Seconds
        & $verdict "chunked push <= $($ChunkedFloorTarget)x zstd -3 -T0 + SHA-256" ($ratio -le $ChunkedFloorTarget) ('{0:F2} s vs {1:F2} s, ratio {2:F2}; {3} chunks, {4:N0} -> {5:N0} bytes' -f $cp.S3lo.Seconds, $cp.Ref.Seconds, $ratio,
            $cp.S3lo.Output.ChunksUploaded, $cp.S3lo.Output.BytesBeforeCompression, $cp.S3lo.Output.BytesAfterCompression)
        & $verdict 'peak memory < 300 MB (chunked push)' ($cp.S3lo.PeakBytes -lt $PeakMemoryTarget) ('worst of {0} runs {1:F0} MB' -f $Repeat, ($cp.S3lo.PeakBytes / 1e6))
    } else { & $verdict "chunked push <= $($ChunkedFloorTarget)x zstd -3 -T0 + SHA-256" $null 'a run failed' }
    $scp = $summary['s3-chunked-push']
    if ($Operation -contains 's3-chunked-push' -and $scp.S3lo -and $scp.S3lo.Ok) {
        & $verdict 'peak memory < 300 MB (chunked push to S3)' ($scp.S3lo.PeakBytes -lt $PeakMemoryTarget) ('worst of {0} runs {1:F0} MB; {2:F2} s' -f $Repeat, ($scp.S3lo.PeakBytes / 1e6), $scp.S3lo.Seconds)
    }
    $crp = $summary['chunked-re-push']
    if ($Operation -notcontains 'chunked-re-push' -or $Operation -notcontains 'chunked-push') { & $verdict "chunked re-push <= $($ChunkedRePushTarget)x the first push" $null 'not run (-Operation, needs chunked-push)' }
    elseif ($crp.S3lo -and $crp.S3lo.Ok -and $cp.S3lo -and $cp.S3lo.Ok) {
        $ratio = $crp.S3lo.Seconds / $cp.S3lo.Seconds
        & $verdict "chunked re-push <= $($ChunkedRePushTarget)x the first push" ($ratio -le $ChunkedRePushTarget) ('{0:F2} s vs {1:F2} s, ratio {2:F2}; uploaded {3} bytes, {4} chunks reused' -f $crp.S3lo.Seconds, $cp.S3lo.Seconds, $ratio,
            $crp.S3lo.Output.BytesUploaded, $crp.S3lo.Output.ChunksReused)
    } else { & $verdict "chunked re-push <= $($ChunkedRePushTarget)x the first push" $null 'a run failed' }
    # i. the one-file edit: chunks and bytes uploaded
    $er = $summary['edit-re-push']
    $erTarget = "one-file edit uploads <= $EditChunksTarget chunks"
    if ($Operation -notcontains 'edit-re-push') { & $verdict $erTarget $null 'not run (-Operation)' }
    elseif ($er.S3lo -and $er.S3lo.Ok) {
        $o = $er.S3lo.Output
        & $verdict $erTarget ([long]$o.ChunksUploaded -le $EditChunksTarget) ('{0} chunks uploaded ({1:N0} bytes), {2} reused; the layer is {3:N0} bytes' -f $o.ChunksUploaded, $o.BytesUploaded, $o.ChunksReused, $script:Image.Layers[0].Size)
    } else { & $verdict $erTarget $null 'a run failed' }
    # j. what a file read fetches from S3 (no target: the chunk holding the file, the recipe, the file index, manifest and config)
    $rf = @($results | Where-Object { $_.Op -eq 's3-read-file' -and $_.Ok })
    if ($Operation -contains 's3-read-file' -and $rf) {
        $most = $rf | Sort-Object Fetched -Descending | Select-Object -First 1
        Write-Host ('  (info)        read one {0:N0}-byte file of the {1} MiB chunked image on S3: {2:N0} bytes fetched in {3} requests (the most of {4} runs, counted by the proxy)' -f
            $SmallFileBytes.Length, $SizeMB, $most.Fetched, $most.Requests, $rf.Count)
    }
    # h. what fsync costs a local push (no target)
    $du = $summary['durability']
    if ($Operation -contains 'durability' -and $du.S3lo -and $du.S3lo.Ok -and $du.Ref -and $du.Ref.Ok) {
        Write-Host ('  (info)        local push with fsync vs fsync a no-op (LD_PRELOAD): {0:F2} s vs {1:F2} s, ratio {2:F2} (no target)' -f $du.S3lo.Seconds, $du.Ref.Seconds, ($du.S3lo.Seconds / $du.Ref.Seconds))
    }
    $dc = $summary['durability-chunked']
    if ($Ops -contains 'durability-chunked' -and $dc.S3lo -and $dc.S3lo.Ok -and $dc.Ref -and $dc.Ref.Ok) {
        Write-Host ('  (info)        chunked push with fsync vs fsync a no-op (LD_PRELOAD): {0:F2} s vs {1:F2} s, ratio {2:F2} (no target)' -f $dc.S3lo.Seconds, $dc.Ref.Seconds, ($dc.S3lo.Seconds / $dc.Ref.Seconds))
    }

    if ($failures.Count) {
        Write-Host ''
        Write-Host "FAILED steps ($($failures.Count)):"
        foreach ($f in $failures) { Write-Host "  $f" }
        $exitCode = 1
    }
} catch {
    Write-Host "benchmark failed: $_"
    Write-Host $_.ScriptStackTrace
    $exitCode = 1
} finally {
    # --- 4. clean up: the S3 server, the run directory, the private module copy ---
    if ($script:Azurite) {
        try { Stop-TestAzureServer $script:Azurite; Write-Host 'Azure server stopped.' } catch { Write-Host "stopping the Azure server failed: $_"; $exitCode = 1 }
    }
    if ($script:Proxy) { Stop-Process -Id $script:Proxy.Id -Force -ErrorAction Ignore }
    if ($rgwEnvironment) {
        try {
            Invoke-WithRgwEnvironment $rgwEnvironment { $null = Invoke-Process bash @((Join-Path $RgwScripts 'stop-rgw.sh'), '--purge') }
            Write-Host 'S3 server stopped.'
        } catch { Write-Host "stopping the S3 server failed: $_"; $exitCode = 1 }
    }
    if ($script:RunDir -and (Test-Path -LiteralPath $script:RunDir)) { Remove-Item -LiteralPath $script:RunDir -Recurse -Force -ErrorAction Continue }
    if ((Test-Path -LiteralPath $WorkDirectory) -and -not (Get-ChildItem -LiteralPath $WorkDirectory -Force)) { Remove-Item -LiteralPath $WorkDirectory -ErrorAction Continue }
    if ($privateModuleDir -and (Test-Path -LiteralPath $privateModuleDir)) { Remove-Item -LiteralPath $privateModuleDir -Recurse -Force -ErrorAction Continue }
}
exit $exitCode
