<#
.SYNOPSIS
Placeholder for the S3lo demo: loads the built module and lists its commands.
#>
$ErrorActionPreference = 'Stop'
$manifest = if ($env:S3LO_MODULE_PATH) { $env:S3LO_MODULE_PATH } else { Join-Path $PSScriptRoot '../out/S3lo/S3lo.psd1' }
$module = Import-Module $manifest -PassThru
"S3lo $($module.Version) loaded from $($module.ModuleBase)"
Get-Command -Module S3lo | Format-Table -AutoSize | Out-String
