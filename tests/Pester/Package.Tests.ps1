# The package a user installs: build/New-S3loPackage.ps1 makes S3lo.<version>.nupkg from the built module with
# Publish-PSResource; a fresh pwsh with its own home installs it from a file repository with Install-PSResource
# and imports the module by name.
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $script:ManifestPath = $env:S3LO_MODULE_PATH
    if (-not $script:ManifestPath) { throw 'S3LO_MODULE_PATH is not set; run the tests with ./build.sh Test' }
    $script:Built = Test-ModuleManifest -Path $script:ManifestPath
    $script:Work = Join-Path ([IO.Path]::GetTempPath()) "s3lo-package-$([guid]::NewGuid().ToString('N'))"
    $null = New-Item -ItemType Directory -Path $script:Work
    $script:Package = & (Join-Path $PSScriptRoot '../../build/New-S3loPackage.ps1') -ModulePath (Split-Path -Parent $script:ManifestPath) -OutputDirectory (Join-Path $script:Work 'repo')

    # Install and inspect in a pwsh whose home, module path and PSResourceGet configuration are all new.
    $home2 = Join-Path $script:Work 'home'
    # .NET names LocalApplicationData (where PSResourceGet keeps its repository list) only if the folder exists;
    # otherwise PSResourceGet falls back to the current directory.
    $null = New-Item -ItemType Directory -Path (Join-Path $home2 '.local/share'), (Join-Path $home2 '.config')
    $inner = {
        param($Repo)
        $ErrorActionPreference = 'Stop'
        $ProgressPreference = 'SilentlyContinue'
        Register-PSResourceRepository -Name S3loTest -Uri $Repo -Trusted
        Install-PSResource -Name S3lo -Repository S3loTest -Scope CurrentUser -TrustRepository
        Import-Module S3lo
        $m = Get-Module S3lo
        $help = Get-Help Push-S3loImage -Full
        [pscustomobject]@{
            ModuleBase   = $m.ModuleBase
            Version      = "$($m.Version)"
            Commands     = @((Get-Command -Module S3lo).Name | Sort-Object)
            ReleaseNotes = "$($m.PrivateData.PSData.ReleaseNotes)"
            ProjectUri   = "$($m.ProjectUri)"
            LicenseUri   = "$($m.LicenseUri)"
            HelpExamples = @($help.examples.example).Count
            HelpParams   = @($help.parameters.parameter).Count
            AboutHelp    = [bool](Get-Help about_S3lo -ErrorAction Ignore)
            Views        = @(Get-FormatData -TypeName 'S3lo.*' -ErrorAction Ignore).Count
            License      = Test-Path (Join-Path $m.ModuleBase 'LICENSE')
            ModulePath   = $env:PSModulePath
        } | ConvertTo-Json -Compress
    }
    $pwsh = [Environment]::ProcessPath
    $pwshArgs = @(if ([IO.Path]::GetFileNameWithoutExtension($pwsh) -eq 'dotnet') { Join-Path $PSHOME 'pwsh.dll' })
    $saved = @{ HOME = $env:HOME; XDG_DATA_HOME = $env:XDG_DATA_HOME; XDG_CONFIG_HOME = $env:XDG_CONFIG_HOME; PSModulePath = $env:PSModulePath }
    try {
        $env:HOME = $home2
        $env:XDG_DATA_HOME = Join-Path $home2 '.local/share'
        $env:XDG_CONFIG_HOME = Join-Path $home2 '.config'
        $env:PSModulePath = $null
        $out = & $pwsh @pwshArgs -NoLogo -NoProfile -NonInteractive -Command $inner -args (Split-Path -Parent $script:Package) 2>&1
        $script:InstallExit = $LASTEXITCODE
    } finally {
        foreach ($k in $saved.Keys) { [Environment]::SetEnvironmentVariable($k, $saved[$k]) }
    }
    $script:InstallOutput = ($out | Out-String)
    $json = @($out | Where-Object { "$_".StartsWith('{') }) | Select-Object -Last 1
    $script:Installed = if ($json) { $json | ConvertFrom-Json } else { $null }
}

AfterAll {
    if ($script:Work) { Remove-Item -LiteralPath $script:Work -Recurse -Force -ErrorAction Ignore }
}

Describe 'S3lo package' {
    It 'is named after the module and its version and carries the module, its dependencies, help, formats and license' {
        Split-Path -Leaf $script:Package | Should -Be "S3lo.$($script:Built.Version).nupkg"
        Add-Type -AssemblyName System.IO.Compression.FileSystem
        $zip = [IO.Compression.ZipFile]::OpenRead($script:Package)
        try { $entries = @($zip.Entries.FullName) } finally { $zip.Dispose() }
        foreach ($e in 'S3lo.psd1', 'S3lo.PowerShell.dll', 'S3lo.Format.ps1xml', 'LICENSE', 'en-US/S3lo.PowerShell.dll-Help.xml',
            'en-US/about_S3lo.help.txt', 'dependencies/S3lo.Core.dll', 'dependencies/AWSSDK.S3.dll', 'dependencies/Azure.Storage.Blobs.dll') {
            $entries | Should -Contain $e
        }
    }

    It 'installs with Install-PSResource into a fresh module path and imports by name' {
        $script:Installed | Should -Not -BeNullOrEmpty -Because $script:InstallOutput
        $script:InstallExit | Should -Be 0
        $script:Installed.ModuleBase | Should -BeLike "$(Join-Path $script:Work 'home')*"
        $script:Installed.Version | Should -Be "$($script:Built.Version)"
        # and it kept its repository list in its own home, not in the directory it ran in
        Test-Path (Join-Path $script:Work 'home/.local/share/PSResourceGet/PSResourceRepository.xml') | Should -BeTrue
        Test-Path (Join-Path (Get-Location) 'PSResourceGet') | Should -BeFalse
    }

    It 'exports every cmdlet the built manifest declares, with help, about_S3lo and the format views' {
        $script:Installed.Commands | Should -Be @($script:Built.ExportedCmdlets.Keys | Sort-Object)
        $script:Installed.HelpExamples | Should -BeGreaterThan 0
        $script:Installed.HelpParams | Should -BeGreaterThan 0
        $script:Installed.AboutHelp | Should -BeTrue
        $script:Installed.Views | Should -BeGreaterThan 0
        $script:Installed.License | Should -BeTrue
    }

    It 'has release notes from this version''s CHANGELOG.md section, a project URL and a license URL' {
        $changelog = Get-Content -Raw (Join-Path $PSScriptRoot '../../CHANGELOG.md')
        $section = [regex]::Match($changelog, "(?ms)^## \[$([regex]::Escape("$($script:Built.Version)"))\][^\r\n]*\r?\n(.*?)(?=^## |\z)").Groups[1].Value.Trim()
        $section | Should -Not -BeNullOrEmpty
        ($script:Installed.ReleaseNotes -replace '\r', '') | Should -Be ($section -replace '\r', '')
        $script:Installed.ProjectUri | Should -Match '^https?://'
        $script:Installed.LicenseUri | Should -Match '^https?://'
    }
}
