<#
.SYNOPSIS
Builds, tests and demonstrates S3lo.

.DESCRIPTION
Tasks (run in the order given):
  Build  compile the solution and assemble the module in out/S3lo (manifest, format file,
         dependencies/ for the module's own load context, en-US MAML help from docs/help)
  Package  Build, then make out/package/S3lo.<version>.nupkg with Publish-PSResource (a private file
         repository; nothing is sent to a gallery)
  Test   install missing test prerequisites (apt packages, Azurite from npm), Build, run xunit and Pester (Pester in a fresh pwsh
         against the built module); the last line is "N passed, N failed"
  Demo   Build, then run demo/Demo.ps1 in a fresh pwsh with the built module
  Bench  Build, then run bench/Invoke-Benchmark.ps1, Measure-ServerPull.ps1 and Measure-Scale.ps1 (start-up and scale), each in a fresh pwsh
  Clean  remove out/ and every bin/ and obj/
  Help   show this text

.EXAMPLE
./build.sh Test
#>
param(
    [ValidateSet('Build', 'Package', 'Test', 'Demo', 'Bench', 'Clean', 'Help')]
    [string[]] $Task = 'Build',
    [string] $Configuration = 'Release'
)

Set-StrictMode -Version 3.0
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'

$Root = $PSScriptRoot
$OutDir = Join-Path $Root 'out'
$ModuleDir = Join-Path $OutDir 'S3lo'
$ModuleManifest = Join-Path $ModuleDir 'S3lo.psd1'
$TestResultsDir = Join-Path $OutDir 'test-results'
$PesterManifest = Join-Path ([Environment]::GetFolderPath('UserProfile')) '.nuget/packages/pester/5.7.1/tools/Pester.psd1'

# Assemblies PowerShell itself provides; the module must not carry its own copies.
$HostAssemblies = @('System.Management.Automation.dll', 'Microsoft.PowerShell.*.dll', 'PowerShellStandard*.dll', 'Microsoft.Management.Infrastructure*.dll')

# command -> Debian package that provides it, for what the tests and the demo start.
$Prerequisites = [ordered]@{
    'radosgw'                 = 'radosgw'
    'radosgw-admin'           = 'radosgw'
    'ceph-mon'                = 'ceph-mon'
    'monmaptool'              = 'ceph-mon'
    'ceph-osd'                = 'ceph-osd'
    'ceph'                    = 'ceph-common'
    'skopeo'                  = 'skopeo'
    'umoci'                   = 'umoci'
    'podman'                  = 'podman'
    '/usr/bin/docker-registry' = 'docker-registry'
    'curl'                    = 'curl'
    'ss'                      = 'iproute2'
    'newuidmap'               = 'uidmap'
    'fuse-overlayfs'          = 'fuse-overlayfs'
    '/usr/bin/time'           = 'time'
    'htpasswd'                = 'apache2-utils'
    'zstd'                    = 'zstd'
    'strace'                  = 'strace'
    '/usr/lib/python3/dist-packages/nacl/secret.py' = 'python3-nacl'
}
# One apt-get install takes them all at once, so their order does not matter.
$PrerequisitePackages = @($Prerequisites.Values | Select-Object -Unique)

function Invoke-Native {
    # Runs a program with the console attached and throws if it fails. A simple function (no param
    # block) so that switches such as -v or -c reach the program instead of PowerShell's binder.
    $filePath, $arguments = $args
    & $filePath @arguments | Out-Host
    if ($LASTEXITCODE -ne 0) { throw "'$filePath $($arguments -join ' ')' failed with exit code $LASTEXITCODE" }
}

function Invoke-FreshPwsh {
    # A loaded assembly cannot be unloaded, so the built module is only ever imported by a new pwsh.
    # Returns the exit code.
    param([Parameter(Mandatory)] [string[]] $ArgumentList, [hashtable] $Environment = @{})
    $saved = @{}
    foreach ($name in $Environment.Keys) {
        $saved[$name] = [Environment]::GetEnvironmentVariable($name)
        [Environment]::SetEnvironmentVariable($name, $Environment[$name])
    }
    try {
        Push-Location $Root   # dotnet tool run finds .config/dotnet-tools.json from here
        & dotnet tool run pwsh -NoLogo -NoProfile -NonInteractive @ArgumentList | Out-Host
        $LASTEXITCODE
    } finally {
        Pop-Location
        foreach ($name in $saved.Keys) { [Environment]::SetEnvironmentVariable($name, $saved[$name]) }
    }
}

function Get-ProjectVersion {
    $props = [xml](Get-Content -Raw -LiteralPath (Join-Path $Root 'Directory.Build.props'))
    $node = $props.SelectSingleNode('/Project/PropertyGroup/Version')
    if (-not $node -or $node.InnerText -notmatch '^\d+\.\d+\.\d+$') { throw 'Directory.Build.props has no <Version>major.minor.patch</Version>' }
    $node.InnerText
}

function Get-ReleaseNotes([string] $Version) {
    # The CHANGELOG.md section of this version: from its '## [x.y.z]' heading to the next '## ' heading.
    $changelog = Join-Path $Root 'CHANGELOG.md'
    if (-not (Test-Path -LiteralPath $changelog)) { throw 'CHANGELOG.md is missing' }
    $text = Get-Content -Raw -LiteralPath $changelog
    $match = [regex]::Match($text, "(?ms)^## \[$([regex]::Escape($Version))\][^\r\n]*\r?\n(.*?)(?=^## |\z)")
    if (-not $match.Success -or -not $match.Groups[1].Value.Trim()) { throw "CHANGELOG.md has no section '## [$Version]' with notes" }
    $match.Groups[1].Value.Trim()
}

function Invoke-BuildTask {
    Write-Host "== Build ($Configuration)"
    Invoke-Native dotnet build (Join-Path $Root 'S3lo.slnx') -c $Configuration --nologo -v minimal

    $targetPath = & dotnet msbuild (Join-Path $Root 'src/S3lo.PowerShell/S3lo.PowerShell.csproj') -nologo "-getProperty:TargetPath" "-p:Configuration=$Configuration"
    if ($LASTEXITCODE -ne 0 -or -not $targetPath) { throw 'could not ask MSBuild for the S3lo.PowerShell output path' }
    $binDir = Split-Path -Parent ($targetPath | Select-Object -Last 1).Trim()

    if (Test-Path -LiteralPath $ModuleDir) { Remove-Item -LiteralPath $ModuleDir -Recurse -Force }
    $dependencies = Join-Path $ModuleDir 'dependencies'
    $null = New-Item -ItemType Directory -Force -Path $dependencies

    $version = Get-ProjectVersion
    $manifestText = Get-Content -Raw -LiteralPath (Join-Path $Root 'S3lo.psd1')
    $stamped = $manifestText -replace "(?m)^(\s*ModuleVersion\s*=\s*)'[^']*'", "`${1}'$version'"
    if ($stamped -eq $manifestText -and $manifestText -notmatch "ModuleVersion\s*=\s*'$([regex]::Escape($version))'") {
        throw "S3lo.psd1 has no ModuleVersion = '...' line to stamp"
    }
    $notes = (Get-ReleaseNotes $version) -replace "'", "''"
    $withNotes = $stamped -replace "(?m)^(\s*ReleaseNotes\s*=\s*)''.*$", "`${1}'$($notes -replace '\$', '$$$$')'"
    if ($withNotes -eq $stamped) { throw "S3lo.psd1 has no ReleaseNotes = '' line to stamp" }
    Set-Content -LiteralPath $ModuleManifest -Value $withNotes -NoNewline
    Copy-Item -LiteralPath (Join-Path $Root 'LICENSE') -Destination $ModuleDir

    $formatSource = Join-Path $Root 'src/S3lo.PowerShell/S3lo.Format.ps1xml'
    $formatTarget = Join-Path $ModuleDir 'S3lo.Format.ps1xml'
    if (Test-Path -LiteralPath $formatSource) { Copy-Item -LiteralPath $formatSource -Destination $formatTarget }
    else { Set-Content -LiteralPath $formatTarget -Value "<?xml version=`"1.0`" encoding=`"utf-8`"?>`n<Configuration>`n  <ViewDefinitions />`n</Configuration>" }

    Copy-Item -LiteralPath (Join-Path $binDir 'S3lo.PowerShell.dll') -Destination $ModuleDir
    $pdb = Join-Path $binDir 'S3lo.PowerShell.pdb'
    if (Test-Path -LiteralPath $pdb) { Copy-Item -LiteralPath $pdb -Destination $ModuleDir }
    foreach ($file in Get-ChildItem -LiteralPath $binDir -File) {
        if ($file.Extension -notin '.dll', '.pdb' -or $file.BaseName -eq 'S3lo.PowerShell') { continue }
        $dllName = [IO.Path]::ChangeExtension($file.Name, '.dll')
        if ($HostAssemblies.Where({ $dllName -like $_ })) { continue }
        Copy-Item -LiteralPath $file.FullName -Destination $dependencies
    }
    $nativeRuntimes = Join-Path $binDir 'runtimes'
    if (Test-Path -LiteralPath $nativeRuntimes) { Copy-Item -LiteralPath $nativeRuntimes -Destination $dependencies -Recurse }

    $helpSource = Join-Path $Root 'docs/help'
    $helpDocs = @(if (Test-Path -LiteralPath $helpSource) { Get-ChildItem -LiteralPath $helpSource -Filter *.md -File })
    if ($helpDocs) {
        $helpFile = Join-Path $ModuleDir 'en-US/S3lo.PowerShell.dll-Help.xml'
        try { $null = & (Join-Path $Root 'build/ConvertTo-MamlHelp.ps1') -Path $helpSource -OutputPath $helpFile }
        catch { throw "help conversion failed: $($_.Exception.Message)" }
        Write-Host "help: $(@($helpDocs | Where-Object Name -NotLike 'about_*').Count) cmdlet page(s) -> $helpFile"
        # about_ topics are read by Get-Help as plain text; the markdown reads well as it is, minus its front matter.
        foreach ($about in $helpDocs | Where-Object Name -Like 'about_*') {
            $text = (Get-Content -Raw -LiteralPath $about.FullName) -replace '(?s)\A---\r?\n.*?\r?\n---\r?\n', ''
            Set-Content -LiteralPath (Join-Path $ModuleDir "en-US/$($about.BaseName).help.txt") -Value $text.Trim()
            Write-Host "help: $($about.Name) -> en-US/$($about.BaseName).help.txt"
        }
    } else {
        Write-Host 'help: docs/help has no *.md yet, no MAML written'
    }

    $manifest = Test-ModuleManifest -Path $ModuleManifest -ErrorAction Stop
    Write-Host "module: $($manifest.Name) $($manifest.Version) -> $ModuleDir"
}

function Get-MissingPrerequisites([string[]] $Commands = @($Prerequisites.Keys)) {
    # The commands (keys of $Prerequisites) not found: a path that does not exist, a name not on PATH.
    @($Commands | Where-Object {
            if ($_.StartsWith('/')) { -not (Test-Path -LiteralPath $_) } else { -not (Get-Command $_ -CommandType Application -ErrorAction Ignore) }
        })
}

function Assert-Prerequisites {
    Install-Azurite
    $missing = @(Get-MissingPrerequisites)
    if (-not $missing) { return }
    $packages = @($missing | ForEach-Object { $Prerequisites[$_] } | Select-Object -Unique)
    $isRoot = (& id -u) -eq '0'
    if (-not $isRoot) {
        throw "missing $($missing -join ', '). Install them as root with:`n  apt-get install -y --no-install-recommends $($PrerequisitePackages -join ' ')"
    }
    Write-Host "== Prerequisites: installing for $($missing -join ', ') (packages $($packages -join ', '))"
    $env:DEBIAN_FRONTEND = 'noninteractive'
    Invoke-Native apt-get update -q
    Invoke-Native apt-get install -y -q --no-install-recommends @PrerequisitePackages
    $still = @(Get-MissingPrerequisites $missing)
    if ($still) { throw "still missing after apt-get install: $($still -join ', ')" }
}

function Install-Azurite {
    # The Azure Blob Storage emulator, from npm into tests/work/azurite (never globally). start-azurite.sh installs
    # it on first use anyway; doing it here keeps the download out of the first test's time limit.
    if (-not (Get-Command node -CommandType Application -ErrorAction Ignore) -or -not (Get-Command npm -CommandType Application -ErrorAction Ignore)) {
        throw 'the Azure tests need Node.js 20 or later with npm (for Azurite); install them, e.g. from https://nodejs.org or your distribution'
    }
    Invoke-Native bash (Join-Path $Root 'tests/servers/start-azurite.sh') --install-only
}

function Invoke-XunitTests {
    # Returns counts, or $null if the runner produced no results.
    $trx = Join-Path $TestResultsDir 'S3lo.Core.Tests.trx'
    Remove-Item -LiteralPath $trx -ErrorAction Ignore
    Write-Host '== xunit'
    & dotnet test (Join-Path $Root 'tests/S3lo.Core.Tests') -c $Configuration --no-build --nologo `
        --logger 'trx;LogFileName=S3lo.Core.Tests.trx' --logger 'console;verbosity=normal' --results-directory $TestResultsDir | Out-Host
    $exitCode = $LASTEXITCODE
    if (-not (Test-Path -LiteralPath $trx)) { Write-Host "xunit: no result file (dotnet test exit code $exitCode)"; return $null }
    $counters = ([xml](Get-Content -Raw -LiteralPath $trx)).TestRun.ResultSummary.Counters
    $failed = 0
    foreach ($name in 'failed', 'error', 'timeout', 'aborted') { $failed += [int]$counters.$name }
    if ($exitCode -ne 0 -and $failed -eq 0) { $failed = 1; Write-Host "xunit: dotnet test exit code $exitCode with no failed test; counted as 1 failure" }
    [pscustomobject]@{ Suite = 'xunit'; Passed = [int]$counters.passed; Failed = $failed; Skipped = [int]$counters.total - [int]$counters.executed }
}

function Invoke-PesterTests {
    $summaryFile = Join-Path $TestResultsDir 'pester-summary.json'
    Remove-Item -LiteralPath $summaryFile -ErrorAction Ignore
    Write-Host '== Pester'
    Invoke-Native dotnet restore (Join-Path $Root 'build/tools.csproj') --nologo -v quiet
    if (-not (Test-Path -LiteralPath $PesterManifest)) { throw "Pester 5.7.1 was not restored to $PesterManifest" }
    $exitCode = Invoke-FreshPwsh -ArgumentList @('-File', (Join-Path $Root 'build/Invoke-PesterTests.ps1'),
        '-PesterManifest', $PesterManifest, '-TestPath', (Join-Path $Root 'tests/Pester'),
        '-ResultsDirectory', $TestResultsDir) -Environment @{ S3LO_MODULE_PATH = $ModuleManifest }
    if (-not (Test-Path -LiteralPath $summaryFile)) { Write-Host "Pester: no summary (pwsh exit code $exitCode)"; return $null }
    $summary = Get-Content -Raw -LiteralPath $summaryFile | ConvertFrom-Json
    [pscustomobject]@{ Suite = 'Pester'; Passed = [int]$summary.Passed; Failed = [int]$summary.Failed; Skipped = [int]$summary.Skipped }
}

function Invoke-TestTask {
    Assert-Prerequisites
    Invoke-BuildTask
    $null = New-Item -ItemType Directory -Force -Path $TestResultsDir
    $suites = @(
        Invoke-XunitTests
        Invoke-PesterTests
    )
    $ran = @($suites | Where-Object { $null -ne $_ })
    Write-Host '== Summary'
    foreach ($s in $ran) { Write-Host ("{0,-7} {1} passed, {2} failed, {3} skipped" -f $s.Suite, $s.Passed, $s.Failed, $s.Skipped) }
    $passed = ($ran | Measure-Object Passed -Sum).Sum
    $failed = ($ran | Measure-Object Failed -Sum).Sum
    if ($ran.Count -ne 2) { Write-Host 'a test runner did not run (see above); counted as 1 failure'; $failed++ }
    $script:TestLine = "$([int]$passed) passed, $([int]$failed) failed"
    $script:TestsFailed = $failed -gt 0
}

function Invoke-DemoTask {
    Assert-Prerequisites
    Invoke-BuildTask
    Write-Host '== Demo'
    $exitCode = Invoke-FreshPwsh -ArgumentList @('-File', (Join-Path $Root 'demo/Demo.ps1')) -Environment @{ S3LO_MODULE_PATH = $ModuleManifest }
    if ($exitCode -ne 0) { throw "demo/Demo.ps1 failed with exit code $exitCode" }
}

function Invoke-BenchTask {
    Assert-Prerequisites
    Invoke-BuildTask
    $bench = Join-Path $Root 'bench/Invoke-Benchmark.ps1'
    if (-not (Test-Path -LiteralPath $bench)) { Write-Host 'Bench: bench/Invoke-Benchmark.ps1 does not exist yet'; return }
    Write-Host '== Bench'
    $exitCode = Invoke-FreshPwsh -ArgumentList @('-File', $bench) -Environment @{ S3LO_MODULE_PATH = $ModuleManifest }
    if ($exitCode -ne 0) { throw "bench/Invoke-Benchmark.ps1 failed with exit code $exitCode" }
    foreach ($part in @{ Script = 'Measure-ServerPull.ps1'; Title = 'server pull against docker-registry' }, @{ Script = 'Measure-Scale.ps1'; Title = 'start-up and scale' }) {
        Write-Host "== Bench: $($part.Title)"
        $exitCode = Invoke-FreshPwsh -ArgumentList @('-File', (Join-Path $Root "bench/$($part.Script)"), '-ModulePath', $ModuleManifest) -Environment @{ S3LO_MODULE_PATH = $ModuleManifest }
        if ($exitCode -ne 0) { throw "bench/$($part.Script) failed with exit code $exitCode" }
    }
}

function Invoke-PackageTask {
    Invoke-BuildTask
    Write-Host '== Package'
    $package = & (Join-Path $Root 'build/New-S3loPackage.ps1') -ModulePath $ModuleDir -OutputDirectory (Join-Path $OutDir 'package')
    Write-Host "package: $package"
}

function Invoke-CleanTask {
    Write-Host '== Clean'
    $dirs = @(Get-ChildItem -LiteralPath $Root -Directory -Recurse -Include bin, obj -ErrorAction Ignore |
            Where-Object { $_.FullName -notmatch '[\\/](\.git|out|node_modules)[\\/]' })
    if (Test-Path -LiteralPath $OutDir) { $dirs += Get-Item -LiteralPath $OutDir }
    foreach ($d in $dirs) { Remove-Item -LiteralPath $d.FullName -Recurse -Force }
    Write-Host "removed $($dirs.Count) director$(if ($dirs.Count -eq 1) { 'y' } else { 'ies' })"
}

$script:TestLine = $null
$script:TestsFailed = $false
try {
    foreach ($t in $Task) {
        switch ($t) {
            'Build' { Invoke-BuildTask }
            'Package' { Invoke-PackageTask }
            'Test' { Invoke-TestTask }
            'Demo' { Invoke-DemoTask }
            'Bench' { Invoke-BenchTask }
            'Clean' { Invoke-CleanTask }
            'Help' { Get-Help $PSCommandPath -Detailed | Out-String | Write-Host }
        }
    }
} catch {
    Write-Host "build.ps1: $t failed: $($_.Exception.Message)"
    if ($script:TestLine) { Write-Host $script:TestLine }
    elseif ($Task -contains 'Test') { Write-Host '0 passed, 1 failed' }
    exit 1
}
if ($script:TestLine) { Write-Host $script:TestLine }
exit $(if ($script:TestsFailed) { 1 } else { 0 })
