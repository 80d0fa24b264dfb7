<#
.SYNOPSIS
Benchmark worker: runs ONE S3lo operation in this (fresh) pwsh process and prints one result line.

.DESCRIPTION
Started by Invoke-Benchmark.ps1, once per measurement, so every operation starts from a clean
process and its peak memory is its own. Imports the module, times the cmdlet call alone with a
Stopwatch, and at the end reports [Diagnostics.Process]::GetCurrentProcess().PeakWorkingSet64
(VmHWM on Linux). -Operation Import only imports the module: the baseline to subtract.

Output: a single line 'S3LO-BENCH-RESULT <json>' on stdout; exit code 0 if the operation succeeded.
#>
param(
    [Parameter(Mandatory)] [string] $ModulePath,
    [ValidateSet('Import', 'Push', 'Save')] [string] $Operation = 'Import',
    # Push: the archive or layout to push. Save: the output directory.
    [string] $Path,
    # Push: the destination reference. Save: the reference to save.
    [string] $Reference,
    [string] $EndpointUrl,
    [string] $AccessKey,
    [string] $SecretKey
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
    Import-Module $ModulePath
    $result.ImportSeconds = $clock.Elapsed.TotalSeconds

    $connection = @{}
    if ($EndpointUrl) {
        $connection.EndpointUrl = $EndpointUrl
        $connection.Credential = [pscredential]::new($AccessKey, (ConvertTo-SecureString $SecretKey -AsPlainText -Force))
    }
    $clock.Restart()
    $output = switch ($Operation) {
        'Import' { $null }
        'Push' { Push-S3loImage -Path $Path -Destination $Reference @connection }
        'Save' { Save-S3loImage -Reference $Reference -Path $Path -Format OciLayout @connection }
    }
    $clock.Stop()
    $result.Seconds = $clock.Elapsed.TotalSeconds
    if ($output) {
        $result.Output = [ordered]@{}
        foreach ($p in $output.PSObject.Properties) {
            if ($p.Name -in 'BlobsUploaded', 'BlobsSkipped', 'BytesUploaded', 'BytesTotal', 'BytesWritten', 'Digest', 'Reference', 'Path') {
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
