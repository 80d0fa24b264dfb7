# -Verbose traces each store and registry request; -Debug adds the SDKs' own messages; no credential, signature
# or token is ever shown.
BeforeDiscovery {
    $script:StoreKinds = @(@{ Kind = 'local' }, @{ Kind = 's3' }, @{ Kind = 'az' })
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'StoreHelpers.psm1') -Force
    $script:Suite = Initialize-TestSuite -Name tracing -S3 -Azure
    $script:Work = $Suite.Work
    $script:Server = $Suite.Server
    $script:Layout = New-TestImage -Path (Join-Path $Work 'layout') -Layers 1 -LayerSize 20KB
    $script:Registry = Start-TestRegistry -BasicAuth

    # Every secret a test hands to S3lo, and the marks of a signature or an Authorization header.
    $script:Secrets = @($Server.SecretKey, $Suite.AzureServer.AccountKey, $Registry.Password,
        [Convert]::ToBase64String([Text.Encoding]::UTF8.GetBytes("$($Registry.User):$($Registry.Password)")))
    function Assert-NoSecret([string[]] $Lines, [string[]] $Also = @()) {
        $text = $Lines -join "`n"
        foreach ($secret in @($Secrets) + $Also | Where-Object { $_ }) { $text.Contains($secret) | Should -BeFalse -Because 'no credential is shown' }
        $text | Should -Not -Match '(?i)Signature=[0-9a-f]{16}' -Because 'no signature is shown'
        $text | Should -Not -Match '(?i)\bsig=(?!REDACTED)' -Because 'no SAS signature is shown'
        $text | Should -Not -Match '(?i)Authorization\s*[:=]\s*(?!REDACTED)\S' -Because 'no Authorization header is shown'
        $text | Should -Not -Match '(?i)\b(Basic|Bearer|SharedKey)\s+(?!REDACTED)[A-Za-z0-9+/=:._-]{8,}' -Because 'no credential is shown'
    }
    function Get-Stream($Records, [type] $Type) { @($Records | Where-Object { $_ -is $Type } | ForEach-Object Message) }
}

AfterAll {
    Stop-TestRegistry $script:Registry
    Complete-TestSuite $script:Suite
}

Describe 'Request tracing on a <Kind> store' -ForEach $StoreKinds {
    BeforeAll {
        $store = New-TestStore -Kind $Kind -Root $Work -Server $Server
        $p = $store.Params
        $service = @{ local = 'local'; s3 = 'S3'; az = 'Azure' }[$Kind]
    }

    It 'shows each request of a push with -Verbose: method, key, status, bytes and time' {
        $records = Push-S3loImage -Path $Layout -Destination "$($store.Uri)team/app:v1" -Verbose @p 4>&1
        $verbose = Get-Stream $records ([System.Management.Automation.VerboseRecord])
        $requests = $verbose | Where-Object { $_ -match "^$service (GET|PUT|HEAD|POST|LIST|DELETE) " }
        $requests.Count | Should -BeGreaterThan 3
        $line = '^{0} PUT \S*manifests/team/app/v1/manifest\.json\S* -> (200 OK|201 Created|ok), \d+ B sent(, \d+ B received)?, \d+ ms$' -f $service
        $requests | Where-Object { $_ -match $line } | Should -HaveCount 1 -Because 'the tag is written once, and traced with status, bytes and time'
        $layer = (Get-Content -Raw (Join-Path $Layout 'index.json') | ConvertFrom-Json).manifests[0].digest
        $requests | Where-Object { $_ -match "^$service PUT \S*blobs/sha256/" -and $_ -match '\d{4,} B sent' } | Should -Not -BeNullOrEmpty -Because 'the layer upload shows its bytes'
        Assert-NoSecret $verbose
        @($records | Where-Object { $_.GetType().FullName -eq 'S3lo.Core.Transfer.TransferResult' }).Count | Should -Be 1 -Because 'the output is unchanged'
    }

    It 'writes nothing to the verbose stream without -Verbose' {
        $records = Get-S3loImage -Store $store.Uri @p 4>&1
        Get-Stream $records ([System.Management.Automation.VerboseRecord]) | Should -BeNullOrEmpty
    }

    It 'adds the SDK detail with -Debug, without secrets' -Skip:($Kind -eq 'local') {
        $records = Get-S3loImage -Store $store.Uri -Debug @p 5>&1 4>&1
        $debug = Get-Stream $records ([System.Management.Automation.DebugRecord])
        $sdk = @{ s3 = 'AWS SDK: '; az = 'Azure.Core: ' }[$Kind]
        $debug | Where-Object { $_.StartsWith($sdk) } | Should -Not -BeNullOrEmpty -Because 'the SDK logs what it sends'
        Assert-NoSecret $debug
    }
}

Describe 'Request tracing with secrets' {
    It 'shows an Azure SAS request without its signature' {
        $store = New-TestStore -Kind az -Root $Work
        $client = Get-TestAzureContainerClient -Server $store.Server -Container $store.Root
        $permissions = [Azure.Storage.Sas.BlobContainerSasPermissions]'All'
        $sas = $client.GenerateSasUri($permissions, [DateTimeOffset]::UtcNow.AddHours(1)).Query.TrimStart('?')
        $signature = [uri]::UnescapeDataString(($sas -split '&' | Where-Object { $_ -like 'sig=*' }).Substring(4))
        $records = Push-S3loImage -Path $Layout -Destination "$($store.Uri)app:sas" -SasToken $sas -EndpointUrl $store.Server.EndpointUrl -Verbose -Debug 4>&1 5>&1
        $lines = Get-Stream $records ([System.Management.Automation.VerboseRecord]) + Get-Stream $records ([System.Management.Automation.DebugRecord])
        $lines | Where-Object { $_ -match '^Azure PUT .*\?.*sig=REDACTED' } | Should -Not -BeNullOrEmpty -Because 'the SAS parameters are shown, their values not'
        Assert-NoSecret $lines -Also $signature, [uri]::EscapeDataString($signature)
    }

    It 'shows registry requests without the password or the token' {
        $store = New-TestStore -Kind local -Root $Work
        $null = Push-S3loImage -Path $Layout -Destination "$($store.Uri)app:v1"
        $credential = [pscredential]::new($Registry.User, (ConvertTo-SecureString $Registry.Password -AsPlainText -Force))
        $records = Copy-S3loImage "$($store.Uri)app:v1" "$($Registry.Host)/traced/app:v1" -RegistryCredential $credential -Verbose -Debug 4>&1 5>&1
        $verbose = Get-Stream $records ([System.Management.Automation.VerboseRecord])
        $verbose | Where-Object { $_ -match "^Registry PUT http://$([regex]::Escape($Registry.Host))/v2/traced/app/manifests/v1 -> 201 Created, \d+ B sent" } |
            Should -HaveCount 1
        $verbose | Where-Object { $_ -match '^Registry (GET|HEAD) \S+ -> 401 Unauthorized' } | Should -Not -BeNullOrEmpty -Because 'the challenge is traced too'
        Assert-NoSecret ($verbose + (Get-Stream $records ([System.Management.Automation.DebugRecord])))
    }

    It 'shows the retries of a request that fails, with the reason' {
        # A port nothing listens on: the kernel picks a free one, which is released at once.
        $listener = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, 0)
        try { $listener.Start(); $port = $listener.LocalEndpoint.Port } finally { $listener.Stop() }
        $credential = [pscredential]::new($Server.AccessKey, (ConvertTo-SecureString $Server.SecretKey -AsPlainText -Force))
        $records = Get-S3loImage -Store s3://nothing-here/ -EndpointUrl "http://127.0.0.1:$port" -Credential $credential -Verbose -ErrorAction SilentlyContinue 4>&1 2>&1
        $verbose = Get-Stream $records ([System.Management.Automation.VerboseRecord])
        $failed = @($verbose | Where-Object { $_ -match "^S3 GET http://127\.0\.0\.1:$port/nothing-here\S* -> failed: .*refused" })
        $failed.Count | Should -BeGreaterThan 1 -Because 'a refused connection is retried'
        $failed | Where-Object { $_ -match '\(attempt 2, retried after .*refused.*\)$' } | Should -HaveCount 1
        Assert-NoSecret $verbose
    }
}
