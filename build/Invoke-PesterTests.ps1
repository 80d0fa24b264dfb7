<#
.SYNOPSIS
Runs the Pester suite; build.ps1 starts it in a fresh pwsh so the module under test loads in a clean process.

.DESCRIPTION
Writes NUnit and JUnit reports plus pester-summary.json (the counts build.ps1 reads) to
-ResultsDirectory. A test file that cannot be loaded, or a block whose AfterAll failed, counts as one
failure too: Pester itself reports those apart from failed tests.
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

function Test-HasFailedTest($Block) {
    @($Block.Tests | Where-Object Result -EQ 'Failed').Count -or @($Block.Blocks | Where-Object { Test-HasFailedTest $_ }).Count
}
# A failing BeforeAll already fails the block's tests; a failing AfterAll fails no test, so count it.
$blocksFailedAlone = @($result.FailedBlocks | Where-Object { -not (Test-HasFailedTest $_) }).Count
$failed = $result.FailedCount + $blocksFailedAlone + $result.FailedContainersCount
[ordered]@{
    Passed           = $result.PassedCount
    Failed           = $failed
    Skipped          = $result.SkippedCount + $result.NotRunCount
    FailedBlocks     = $result.FailedBlocksCount
    FailedContainers = $result.FailedContainersCount
} | ConvertTo-Json | Set-Content -LiteralPath (Join-Path $ResultsDirectory 'pester-summary.json')
exit $(if ($failed) { 1 } else { 0 })
