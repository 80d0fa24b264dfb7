@{
    RootModule           = 'S3lo.PowerShell.dll'
    ModuleVersion        = '0.0.0' # stamped from Directory.Build.props by build.ps1
    GUID                 = '0646ee6e-f07d-4842-996e-7e937295c220'
    Author               = 'S3lo contributors'
    CompanyName          = 'S3lo contributors'
    Copyright            = '(c) S3lo contributors'
    Description          = 'Stores container images in S3 buckets, Azure Blob Storage containers or local directories, without a registry: push, save, copy, mirror, inspect, serve and prune images.'
    PowerShellVersion    = '7.4'
    CompatiblePSEditions = @('Core')
    FormatsToProcess     = @('S3lo.Format.ps1xml')
    CmdletsToExport      = @('Push-S3loImage', 'Save-S3loImage', 'Get-S3loImage', 'Get-S3loManifest', 'Remove-S3loImage', 'Get-S3loPolicy',
                            'Set-S3loPolicy', 'Get-S3loLifecyclePlan', 'Invoke-S3loLifecycle', 'Remove-S3loStaleBlob',
                            'Copy-S3loImage', 'Sync-S3loImage', 'Get-S3loImageFile', 'Read-S3loImageFile', 'Start-S3loServer',
                            'Test-S3loStore', 'Measure-S3loStore',
                            'Set-S3loImageSignature', 'Get-S3loImageSignature', 'Test-S3loImageSignature')
    FunctionsToExport    = @()
    AliasesToExport      = @()
    VariablesToExport    = @()
    PrivateData          = @{
        PSData = @{
            Tags         = @('S3', 'Azure', 'OCI', 'container', 'image', 'registry', 'docker', 'Linux', 'Windows', 'MacOS')
            ProjectUri   = 'https://example.invalid/s3lo'
            LicenseUri   = 'https://opensource.org/license/mit'
            ReleaseNotes = '' # stamped from CHANGELOG.md by build.ps1
        }
    }
}
