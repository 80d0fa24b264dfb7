<#
.SYNOPSIS
Runs the Pester suite; build.ps1 starts it in a fresh pwsh so the module under test loads in a clean process.

.DESCRIPTION
Writes NUnit and JUnit reports plus pester-summary.json (the counts build.ps1 reads) to
-ResultsDirectory. A failed BeforeAll/AfterAll block or a test file that cannot be loaded counts as a
failure too, since its tests did not prove anything.
#>
param(
    [Parameter(Mandatory)] [string] $PesterManifest,
    [Parameter(Mandatory)] [string[]] $TestPath,
    [Parameter(Mandatory)] [string] $ResultsDirectory,
    [string[]] $FullNameFilter
)

$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
Import-Module $PesterManifest -MinimumVersion 5.7.1

$config = New-PesterConfiguration
$config.Run.Path = $TestPath
$config.Run.PassThru = $true
$config.Output.Verbosity = 'Detailed'
if ($env:CI) { $config.Output.RenderMode = 'Plaintext' }
if ($FullNameFilter) { $config.Filter.FullName = $FullNameFilter }
$config.TestResult.Enabled = $true
$config.TestResult.OutputFormat = 'NUnitXml'
$config.TestResult.OutputPath = Join-Path $ResultsDirectory 'pester.nunit.xml'

$result = Invoke-Pester -Configuration $config
$result | Export-JUnitReport -Path (Join-Path $ResultsDirectory 'pester.junit.xml')

$failed = $result.FailedCount + $result.FailedBlocksCount + $result.FailedContainersCount
[ordered]@{
    Passed           = $result.PassedCount
    Failed           = $failed
    Skipped          = $result.SkippedCount + $result.NotRunCount
    FailedBlocks     = $result.FailedBlocksCount
    FailedContainers = $result.FailedContainersCount
} | ConvertTo-Json | Set-Content -LiteralPath (Join-Path $ResultsDirectory 'pester-summary.json')
exit $(if ($failed) { 1 } else { 0 })
