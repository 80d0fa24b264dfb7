<#
.SYNOPSIS
Makes S3lo.<version>.nupkg from a built module, with Publish-PSResource.

.DESCRIPTION
Publishes the module folder (out/S3lo, as ./build.sh Build lays it out) to a file repository in
OutputDirectory with Microsoft.PowerShell.PSResourceGet's Publish-PSResource, so the package is exactly
the one a gallery would receive and Install-PSResource takes.

The repository is registered in a private PSResourceGet configuration: the script runs in a pwsh
whose XDG_DATA_HOME (where PSResourceGet keeps its repository list on Linux and macOS) or
LOCALAPPDATA (Windows) points at a temporary directory, so the user's own repositories are never
read or changed and nothing is sent to a network gallery.

Returns the path of the package.
#>
param(
    [Parameter(Mandatory)] [string] $ModulePath,
    [Parameter(Mandatory)] [string] $OutputDirectory
)

Set-StrictMode -Version 3.0
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'

$ModulePath = (Resolve-Path -LiteralPath $ModulePath).ProviderPath
if (Test-Path -LiteralPath $ModulePath -PathType Leaf) { $ModulePath = Split-Path -Parent $ModulePath }
$manifest = Test-ModuleManifest -Path (Join-Path $ModulePath 'S3lo.psd1')
$null = New-Item -ItemType Directory -Force -Path $OutputDirectory
$OutputDirectory = (Resolve-Path -LiteralPath $OutputDirectory).ProviderPath
$package = Join-Path $OutputDirectory "S3lo.$($manifest.Version).nupkg"
Remove-Item -LiteralPath $package -ErrorAction Ignore

$config = Join-Path ([IO.Path]::GetTempPath()) "s3lo-psresource-$([guid]::NewGuid().ToString('N'))"
# .NET names LocalApplicationData only if the folder exists; otherwise PSResourceGet writes to the current directory.
$null = New-Item -ItemType Directory -Path $config
try {
    $inner = {
        param($ModulePath, $OutputDirectory)
        $ErrorActionPreference = 'Stop'
        $ProgressPreference = 'SilentlyContinue'
        Import-Module Microsoft.PowerShell.PSResourceGet
        Register-PSResourceRepository -Name S3loBuild -Uri $OutputDirectory -Trusted
        Publish-PSResource -Path $ModulePath -Repository S3loBuild
    }
    # This pwsh again: an installed pwsh is its own executable; the dotnet tool runs as dotnet pwsh.dll.
    $pwsh = [Environment]::ProcessPath
    $pwshArgs = @(if ([IO.Path]::GetFileNameWithoutExtension($pwsh) -eq 'dotnet') { Join-Path $PSHOME 'pwsh.dll' })
    $saved = @{ XDG_DATA_HOME = $env:XDG_DATA_HOME; LOCALAPPDATA = $env:LOCALAPPDATA }
    $env:XDG_DATA_HOME = $config
    $env:LOCALAPPDATA = $config
    try {
        & $pwsh @pwshArgs -NoLogo -NoProfile -NonInteractive -Command $inner -args $ModulePath, $OutputDirectory | Out-Host
        if ($LASTEXITCODE -ne 0) { throw "Publish-PSResource failed (exit code $LASTEXITCODE)" }
    } finally {
        $env:XDG_DATA_HOME = $saved.XDG_DATA_HOME
        $env:LOCALAPPDATA = $saved.LOCALAPPDATA
    }
} finally {
    Remove-Item -LiteralPath $config -Recurse -Force -ErrorAction Ignore
}
if (-not (Test-Path -LiteralPath $package)) { throw "Publish-PSResource wrote no $package" }
$package
