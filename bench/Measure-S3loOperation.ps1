<#
.SYNOPSIS
Benchmark worker: runs ONE S3lo operation in this (fresh) pwsh process and prints one result line.

.DESCRIPTION
Started by Invoke-Benchmark.ps1, once per measurement, so every operation starts from a clean
process and its peak memory is its own. Imports the module, times the cmdlet call alone with a
Stopwatch, and at the end reports [Diagnostics.Process]::GetCurrentProcess().PeakWorkingSet64
(VmHWM on Linux). -Operation Import only imports the module: the baseline to subtract.

-Operation Floor runs no S3lo at all: it is the hash-and-copy lower bound, timed the same way.

A local -Reference (local://<dir>/<name>:<tag>) must name an existing store: <dir> must hold blobs/sha256.
A local reference to a store that does not exist yet puts the new store at the FIRST path component (as the Go
s3lo reads it: local:///work/x/store/bench:v1 would write /work), so the bench makes its stores first and this
worker refuses to run otherwise rather than write outside the bench's directory.

Output: a single line 'S3LO-BENCH-RESULT <json>' on stdout; exit code 0 if the operation succeeded.
#>
param(
    [Parameter(Mandatory)] [string] $ModulePath,
    [ValidateSet('Import', 'Push', 'Save', 'ReadFile', 'Floor')] [string] $Operation = 'Import',
    # Floor: the files to read, hash and copy into -Path (a directory), all in parallel; '|'-separated.
    [string] $Source,
    # Push: the archive or layout to push. Save: the output directory.
    [string] $Path,
    # Push: the destination reference. Save: the reference to save.
    [string] $Reference,
    [string] $EndpointUrl,
    [string] $AccessKey,
    [string] $SecretKey,
    # Push: 'true' or 'false' for -Chunked; empty leaves it to the store's policy (chunked when absent).
    [string] $Chunked,
    # An Azure store (az://): the account, its key, and -EndpointUrl.
    [string] $AccountName,
    [string] $AccountKey
)
$ErrorActionPreference = 'Stop'
# No progress rendering (skopeo runs with --quiet too); the cmdlets still report, pwsh drops it.
$ProgressPreference = 'SilentlyContinue'

$result = [ordered]@{
    Operation      = $Operation
    Ok             = $false
    Seconds        = $null
    ImportSeconds  = $null
    PeakWorkingSet = 0
    Output         = $null
    Error          = $null
}
try {
    $clock = [Diagnostics.Stopwatch]::StartNew()
    if ($Operation -eq 'Floor') {
        # The hash-and-copy floor, no S3lo: each file read once, SHA-256 (.NET, i.e. OpenSSL, as S3lo
        # uses) and written to -Path, one thread per file. Compiled before the clock starts.
        Add-Type -TypeDefinition @'
using System.IO; using System.Linq; using System.Security.Cryptography; using System.Threading;
public static class BenchFloor {
    // Dedicated threads, not Task.Run: with 2 cores the thread pool starts 2 workers and adds more
    // only slowly, which made a Task.Run floor twice as slow as this.
    public static void Run(string[] sources, string destination) {
        var threads = sources.Select(src => new Thread(() => {
            var buffer = new byte[1 << 20];
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            using var input = new FileStream(src, FileMode.Open, FileAccess.Read, FileShare.Read, 0);
            using var output = new FileStream(Path.Combine(destination, Path.GetFileName(src)), FileMode.CreateNew, FileAccess.Write, FileShare.None, 0);
            int n;
            while ((n = input.Read(buffer, 0, buffer.Length)) > 0) { hash.AppendData(buffer, 0, n); output.Write(buffer, 0, n); }
            hash.GetHashAndReset();
        })).ToArray();
        foreach (var t in threads) t.Start();
        foreach (var t in threads) t.Join();
    }
}
'@
    } else {
        Import-Module $ModulePath
    }
    $result.ImportSeconds = $clock.Elapsed.TotalSeconds

    if ($Reference -like 'local://*') {
        $storeDir = Split-Path -Parent ($Reference.Substring('local://'.Length) -replace '[:@][^/]*$', '')
        if (-not (Test-Path -LiteralPath (Join-Path $storeDir 'blobs/sha256') -PathType Container)) {
            throw "the local store '$storeDir' does not exist (no blobs/sha256): the bench creates its local stores before it names them in a reference"
        }
    }
    $connection = @{}
    if ($AccountName) {
        $connection.EndpointUrl = $EndpointUrl
        $connection.StorageAccountName = $AccountName
        $connection.StorageAccountKey = $AccountKey
    } elseif ($EndpointUrl) {
        $connection.EndpointUrl = $EndpointUrl
        $connection.Credential = [pscredential]::new($AccessKey, (ConvertTo-SecureString $SecretKey -AsPlainText -Force))
    }
    if ($Chunked) { $connection.Chunked = [bool]::Parse($Chunked) }
    $clock.Restart()
    $output = switch ($Operation) {
        'Import' { $null }
        'Floor' { [BenchFloor]::Run($Source.Split('|'), $Path) }
        'Push' { Push-S3loImage -Path $Path -Destination $Reference @connection }
        'Save' { $connection.Remove('Chunked'); Save-S3loImage -Reference $Reference -Path $Path -Format OciLayout @connection }
        'ReadFile' {
            # -Path is the file inside the image; the result is its length and SHA-256, for the bench to check
            $connection.Remove('Chunked')
            $bytes = [byte[]](Read-S3loImageFile -Reference $Reference -Path $Path -AsByteStream @connection)
            [pscustomobject]@{ Length = $bytes.Length; Sha256 = [Convert]::ToHexString([Security.Cryptography.SHA256]::HashData($bytes)).ToLowerInvariant() }
        }
    }
    $clock.Stop()
    $result.Seconds = $clock.Elapsed.TotalSeconds
    if ($output) {
        $result.Output = [ordered]@{}
        foreach ($p in $output.PSObject.Properties) {
            if ($p.Name -in 'BlobsUploaded', 'BlobsSkipped', 'BytesUploaded', 'BytesTotal', 'ChunksUploaded', 'ChunksReused', 'BytesBeforeCompression', 'BytesAfterCompression', 'BytesWritten', 'Digest', 'Reference', 'Path', 'Length', 'Sha256') {
                $result.Output[$p.Name] = $p.Value
            }
        }
    }
    $result.Ok = $true
} catch {
    $result.Error = "[$($_.FullyQualifiedErrorId)] $($_.Exception.Message)"
}
$result.PeakWorkingSet = [Diagnostics.Process]::GetCurrentProcess().PeakWorkingSet64
'S3LO-BENCH-RESULT ' + ($result | ConvertTo-Json -Compress -Depth 4)
exit $(if ($result.Ok) { 0 } else { 1 })
