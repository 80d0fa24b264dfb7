# Module-wide behaviour: help for every cmdlet, format views, isolation from other AWSSDK versions,
# and stopping a transfer.
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'StoreHelpers.psm1') -Force
    $script:Suite = Initialize-TestSuite -Name module
    $script:Work = $Suite.Work
}

AfterAll {
    Complete-TestSuite $script:Suite
}

Describe 'Help for <Name>' -ForEach @(
    @{ Name = 'Push-S3loImage' }, @{ Name = 'Save-S3loImage' }, @{ Name = 'Get-S3loImage' }, @{ Name = 'Get-S3loManifest' }, @{ Name = 'Remove-S3loImage' }
    @{ Name = 'Get-S3loPolicy' }, @{ Name = 'Set-S3loPolicy' }, @{ Name = 'Get-S3loLifecyclePlan' }, @{ Name = 'Invoke-S3loLifecycle' }
    @{ Name = 'Remove-S3loStaleBlob' }, @{ Name = 'Copy-S3loImage' }, @{ Name = 'Sync-S3loImage' }
    @{ Name = 'Get-S3loImageFile' }, @{ Name = 'Read-S3loImageFile' }, @{ Name = 'Start-S3loServer' }
    @{ Name = 'Test-S3loStore' }, @{ Name = 'Measure-S3loStore' }
    @{ Name = 'Set-S3loImageSignature' }, @{ Name = 'Get-S3loImageSignature' }, @{ Name = 'Test-S3loImageSignature' }
) {
    BeforeAll {
        $help = Get-Help $Name -Full
        $command = Get-Command $Name
    }

    It 'has a synopsis and a description' {
        $help.Synopsis | Should -Not -BeNullOrEmpty
        $help.Synopsis | Should -Not -Match ([regex]::Escape($Name) + '\s+\[')
        ($help.description | Out-String).Trim() | Should -Not -BeNullOrEmpty
    }

    It 'documents every parameter' {
        $common = [System.Management.Automation.PSCmdlet]::CommonParameters + [System.Management.Automation.PSCmdlet]::OptionalCommonParameters
        foreach ($parameter in $command.Parameters.Keys | Where-Object { $_ -notin $common }) {
            $doc = $help.parameters.parameter | Where-Object name -eq $parameter
            $doc | Should -Not -BeNullOrEmpty -Because "-$parameter must be documented"
            ($doc.description | Out-String).Trim() | Should -Not -BeNullOrEmpty -Because "-$parameter needs a description"
        }
    }

    It 'has at least two examples that use the cmdlet' {
        @($help.examples.example).Count | Should -BeGreaterOrEqual 2
        foreach ($example in $help.examples.example) { $example.code | Should -Match ([regex]::Escape($Name)) }
    }
}

Describe 'Format views' {
    It 'has a default view for <_>' -ForEach @('S3lo.Core.Catalog.ImageInfo', 'S3lo.Core.Transfer.TransferResult',
        'S3lo.Core.Catalog.ManifestInfo', 'S3lo.Core.Catalog.BlobInfo', 'S3lo.Core.Catalog.PlatformManifest', 'S3lo.Core.Policy.PolicyEntry',
        'S3lo.Core.Policy.EffectivePolicyInfo', 'S3lo.Core.Catalog.LifecyclePlanItem', 'S3lo.Core.Gc.SweptBlob', 'S3lo.PowerShell.Commands.LifecycleSummary', 'S3lo.Core.Transfer.MirrorResult',
        'S3lo.Core.Files.ImageFileInfo', 'S3lo.Core.Server.ServerEndpoint',
        'S3lo.Core.Health.StoreProblem', 'S3lo.Core.Health.StoreStatistics', 'S3lo.Core.Health.ImageStatistics', 'S3lo.Core.Health.SharedLayer',
        'S3lo.Core.Signing.SignatureInfo', 'S3lo.Core.Signing.SignatureVerification') {
        Get-FormatData -TypeName $_ | Should -Not -BeNullOrEmpty
    }

    It 'renders a listing as a table without errors' {
        $layout = New-TestImage -Path (Join-Path $Work 'fmt-layout') -Layers 1 -LayerSize 10KB -Tag v1
        $null = New-TestLocalStore (Join-Path $Work 'fmt-store')
        $null = Push-S3loImage $layout "local://$Work/fmt-store/app:v1"
        $table = Get-S3loImage "local://$Work/fmt-store/" | Out-String
        $table | Should -Match 'app\s+v1\s+Image\s+[\d.]+ KiB\s.*\slinux/amd64'
        $push = Push-S3loImage $layout "local://$Work/fmt-store/app:v2" | Out-String
        $push | Should -Match 'app:v2'
        Get-S3loManifest "local://$Work/fmt-store/app:v1" | Out-String | Should -Match 'Layers'
    }
}

Describe 'Isolation from other AWS SDK versions' {
    BeforeAll { $script:Server = Start-TestS3Server }
    AfterAll { Stop-TestS3Server $script:Server }

    It 'works in a session that already loaded another AWSSDK.Core' {
        $oldSdk = Join-Path ([Environment]::GetFolderPath('UserProfile')) '.nuget/packages/awssdk.core/3.7.402/lib/net8.0/AWSSDK.Core.dll'
        Test-Path $oldSdk | Should -BeTrue -Because 'build/tools.csproj downloads AWSSDK.Core 3.7.402 for this test'
        New-TestBucket -Server $Server -Name isolation
        $layout = New-TestImage -Path (Join-Path $Work 'iso-layout') -Layers 1 -LayerSize 10KB -Tag v1
        $output = Invoke-TestPwsh -Command @"
`$ErrorActionPreference = 'Stop'
Add-Type -Path '$oldSdk'
`$loaded = [Amazon.Runtime.AWSCredentials].Assembly.GetName().Version
Import-Module '$env:S3LO_MODULE_PATH'
`$cred = [pscredential]::new('$($Server.AccessKey)', (ConvertTo-SecureString '$($Server.SecretKey)' -AsPlainText -Force))
`$r = Push-S3loImage '$layout' s3://isolation/app:v1 -EndpointUrl '$($Server.EndpointUrl)' -Credential `$cred
`$l = Get-S3loImage s3://isolation/ -EndpointUrl '$($Server.EndpointUrl)' -Credential `$cred
"default=`$loaded"
"pushed=`$(`$r.BlobsUploaded)"
"listed=`$(`$l.Reference)"
"still=`$([Amazon.Runtime.AWSCredentials].Assembly.GetName().Version)"
"@
        $output | Should -Contain 'default=3.3.0.0'
        $output | Should -Contain 'pushed=2'
        $output | Should -Contain 'listed=s3://isolation/app:v1'
        $output | Should -Contain 'still=3.3.0.0'
    }
}

Describe 'Stopping a push' {
    It 'stops on Ctrl+C in the middle of a transfer and leaves no tag' {
        $layout = New-TestImage -Path (Join-Path $Work 'big-layout') -Layers 2 -LayerSize 150MB -Tag v1
        $store = New-TestLocalStore (Join-Path $Work 'stop-store')
        $ps = [powershell]::Create()
        # The module is imported by a call of its own: a batch of statements stopped between two of them can leave
        # PowerShell's next batch step running against the closed runspace, which ends the process.
        $null = $ps.AddCommand('Import-Module').AddArgument($env:S3LO_MODULE_PATH).Invoke()
        $ps.Commands.Clear()
        $null = $ps.AddCommand('Push-S3loImage').AddParameter('Path', $layout).AddParameter('Destination', "local://$store/app:v1")
        $async = $ps.BeginInvoke()
        $deadline = [DateTime]::UtcNow.AddSeconds(60)
        # Wait until bytes are being written, so the stop interrupts a transfer in flight.
        while (-not (Get-ChildItem -Recurse -Force -File -LiteralPath $store -ErrorAction Ignore | Where-Object Length -gt 1MB) -and [DateTime]::UtcNow -lt $deadline) {
            Start-Sleep -Milliseconds 20
        }
        $async.IsCompleted | Should -BeFalse -Because 'the push must still be running when it is stopped'
        $ps.Stop()
        $ps.InvocationStateInfo.State | Should -Be 'Stopped'
        # The stop ended the transfer where it was: the store holds less than the image (its blobs are 300 MB).
        $stored = (Get-ChildItem -Recurse -Force -File -LiteralPath $store | Measure-Object Length -Sum).Sum
        $stored | Should -BeLessThan (Get-ChildItem -Recurse -File -LiteralPath (Join-Path $layout 'blobs') | Measure-Object Length -Sum).Sum
        $ps.Dispose()
        Get-ChildItem -Recurse -Force -File -LiteralPath (Join-Path $store 'manifests') -ErrorAction Ignore | Should -BeNullOrEmpty
        Get-ChildItem -Recurse -Force -File -LiteralPath $store | Where-Object Name -like '.s3lo-tmp-*' | Should -BeNullOrEmpty -Because 'a stopped transfer removes its temporary files'
    }
}

Describe 'Progress' {
    BeforeAll {
        $script:ProgressLayout = New-TestImage -Path (Join-Path $Work 'progress-layout') -Layers 2 -LayerSize 20MB -Tag v1
        # Pushes in a runspace of its own (PowerShell's default host keeps progress records in the Progress
        # stream), in a fresh pwsh since Pester's session changes what that stream receives; returns the
        # records as objects with RecordType, ActivityId and StatusDescription.
        function Get-PushProgress([string] $Preference, [hashtable] $Environment) {
            Get-CommandProgress "Push-S3loImage '$ProgressLayout' 'local://$(New-TestLocalStore (Join-Path $Work "progress-$([guid]::NewGuid().ToString('N'))"))/app:v1'" $Preference $Environment
        }
        function Get-CommandProgress([string] $Command, [string] $Preference, [hashtable] $Environment) {
            $setEnvironment = foreach ($name in 'CI', 'TF_BUILD') {
                if ($Environment[$name]) { "`$env:$name = '$($Environment[$name])'" } else { "Remove-Item env:$name -ErrorAction Ignore" }
            }
            $push = "`$ProgressPreference = '$Preference'; Import-Module '$env:S3LO_MODULE_PATH'; $Command"
            $lines = Invoke-TestPwsh -Command @"
`$ErrorActionPreference = 'Stop'
$($setEnvironment -join "`n")
`$runspace = [runspacefactory]::CreateRunspace()
`$runspace.Open()
`$ps = [powershell]::Create()
`$ps.Runspace = `$runspace
`$null = `$ps.AddScript(@'
$push
'@)
`$null = `$ps.Invoke()
if (`$ps.HadErrors) { throw `$ps.Streams.Error[0] }
foreach (`$r in `$ps.Streams.Progress) { '{0}|{1}|{2}' -f `$r.RecordType, `$r.ActivityId, `$r.StatusDescription }
"@
            foreach ($line in $lines) {
                $type, $id, $status = $line -split '\|', 3
                [pscustomobject]@{ RecordType = $type; ActivityId = $id; StatusDescription = $status }
            }
        }
    }

    It 'reports bytes while pushing, and ends with a Completed record' {
        $records = Get-PushProgress -Preference Continue -Environment @{}
        $records.Count | Should -BeGreaterThan 1
        $records[-1].RecordType | Should -Be 'Completed'
        $records[0].StatusDescription | Should -Match '^3 of 3 blobs to upload: .* of 40\.0 MiB$'
        @($records.ActivityId | Sort-Object -Unique).Count | Should -Be 1
    }

    It 'reports tags marked while collecting blobs, and ends with a Completed record' {
        $store = New-TestLocalStore (Join-Path $Work "progress-gc-$([guid]::NewGuid().ToString('N'))")
        $null = Push-S3loImage $ProgressLayout "local://$store/app:v1"
        $records = Get-CommandProgress "Remove-S3loStaleBlob '$store' -GracePeriod 0 -Confirm:`$false" Continue @{}
        $records[0].StatusDescription | Should -Be 'Marking: 1 tag read'
        $records[-1].RecordType | Should -Be 'Completed'
        @($records.ActivityId | Sort-Object -Unique).Count | Should -Be 1
    }

    It 'reports tags checked while checking a store, and ends with a Completed record' {
        $store = New-TestLocalStore (Join-Path $Work "progress-check-$([guid]::NewGuid().ToString('N'))")
        $null = Push-S3loImage $ProgressLayout "local://$store/app:v1"
        $records = Get-CommandProgress "Test-S3loStore '$store' -Deep" Continue @{}
        $records.StatusDescription | Should -Contain '1 tag checked, 0 problems'
        $records[-1].RecordType | Should -Be 'Completed'
        @($records.ActivityId | Sort-Object -Unique).Count | Should -Be 1
    }

    It 'writes none when $ProgressPreference is SilentlyContinue' {
        Get-PushProgress -Preference SilentlyContinue -Environment @{} | Should -BeNullOrEmpty
    }

    It 'writes none on a CI runner (<Name>)' -ForEach @(@{ Name = 'CI'; Environment = @{ CI = 'true' } }, @{ Name = 'TF_BUILD'; Environment = @{ TF_BUILD = 'True' } }) {
        Get-PushProgress -Preference Continue -Environment $Environment | Should -BeNullOrEmpty
    }
}
