# The module as the build lays it out (out/S3lo), imported in this fresh pwsh from S3LO_MODULE_PATH.
BeforeAll {
    $script:ManifestPath = $env:S3LO_MODULE_PATH
    if (-not $script:ManifestPath) { throw 'S3LO_MODULE_PATH is not set; run the tests with ./build.sh Test' }
    $script:ModuleBase = Split-Path -Parent $script:ManifestPath
    $script:Module = Import-Module $script:ManifestPath -PassThru -Force
}

Describe 'Built S3lo module' {
    It 'has the version from Directory.Build.props' {
        $props = [xml](Get-Content -Raw (Join-Path $PSScriptRoot '../../Directory.Build.props'))
        $script:Module.Version | Should -Be ([version]$props.SelectSingleNode('/Project/PropertyGroup/Version').InnerText)
    }

    It 'keeps only S3lo.PowerShell.dll at the module root and the other assemblies in dependencies/' {
        @(Get-ChildItem $script:ModuleBase -Filter *.dll).Name | Should -Be @('S3lo.PowerShell.dll')
        Test-Path (Join-Path $script:ModuleBase 'dependencies/S3lo.Core.dll') | Should -BeTrue
        Test-Path (Join-Path $script:ModuleBase 'dependencies/AWSSDK.S3.dll') | Should -BeTrue
        Get-ChildItem (Join-Path $script:ModuleBase 'dependencies') -Filter 'System.Management.Automation.dll' | Should -BeNullOrEmpty
    }

    It 'declares a PowerShell 7.4 Core module that exports no functions, aliases or variables' {
        $script:Module.PowerShellVersion | Should -Be ([version]'7.4')
        $script:Module.CompatiblePSEditions | Should -Be @('Core')
        $script:Module.ExportedFunctions.Count | Should -Be 0
        $script:Module.ExportedAliases.Count | Should -Be 0
        $script:Module.ExportedVariables.Count | Should -Be 0
    }
}
