# Tab completion of image names, tags, references and platforms from the store on the command line, through
# TabExpansion2 as the console calls it, against local, S3 and Azure stores, and a store that cannot be reached.
BeforeDiscovery {
    $script:StoreKinds = @(@{ Kind = 'local' }, @{ Kind = 's3' }, @{ Kind = 'az' })
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'StoreHelpers.psm1') -Force
    $script:Suite = Initialize-TestSuite -Name completion -S3 -Azure
    $script:Work = $Suite.Work
    $script:Server = $Suite.Server
    $script:Layout = New-TestImage -Path (Join-Path $Work 'layout') -Layers 1 -LayerSize 10KB -Tag amd
    $null = New-TestImage -Path $Layout -Layers 1 -LayerSize 10KB -Tag arm
    $null = New-TestIndexLayout -Layout $Layout -Platforms ([ordered]@{ amd = 'linux/amd64'; arm = 'linux/arm/v7' }) -Tag multi

    # The connection parameters as a user types them, from variables the completion can read without running anything.
    function Get-Completion([string] $Line) {
        $result = TabExpansion2 -inputScript $Line -cursorColumn $Line.Length
        @($result.CompletionMatches | ForEach-Object CompletionText)
    }
    function ConvertTo-CommandLine($Store) {
        $connection = switch ($Store.Kind) {
            's3' { $global:CompletionCredential = $Store.Params.Credential; "-EndpointUrl $($Store.Params.EndpointUrl) -Credential `$global:CompletionCredential" }
            'az' { "-EndpointUrl $($Store.Params.EndpointUrl) -StorageAccountName $($Store.Params.StorageAccountName) -StorageAccountKey '$($Store.Params.StorageAccountKey)'" }
            default { '' }
        }
        $connection
    }
}

AfterAll {
    Remove-Variable -Name CompletionCredential -Scope Global -ErrorAction Ignore
    Complete-TestSuite $script:Suite
}

Describe 'Completion from a <Kind> store' -ForEach $StoreKinds {
    BeforeAll {
        $store = New-TestStore -Kind $Kind -Root $Work -Server $Server
        $p = $store.Params
        foreach ($ref in 'team/api:v1', 'team/api:v2', 'team/web:stable', 'tools/runner:latest') {
            $null = Push-S3loImage $Layout "$($store.Uri)$ref" -SourceTag amd @p
        }
        $null = Push-S3loImage $Layout "$($store.Uri)team/multi:v1" -SourceTag multi @p
        $c = ConvertTo-CommandLine $store
    }

    It 'completes -Name from the store given positionally' {
        Get-Completion "Get-S3loImage $($store.Uri) $c -Name " | Should -Be @('team/api', 'team/multi', 'team/web', 'tools/runner')
        Get-Completion "Get-S3loImage $($store.Uri) $c -Name team/" | Should -Be @('team/api', 'team/multi', 'team/web')
    }

    It 'completes -Tag from the store and -Name given' {
        Get-Completion "Get-S3loManifest -Store $($store.Uri) -Name team/api $c -Tag " | Should -Be @('v1', 'v2')
        Get-Completion "Remove-S3loImage -Store $($store.Uri) $c -Name team/web -Tag s" | Should -Be @('stable')
    }

    It 'completes image references after the store, and tags after the name' {
        Get-Completion "Get-S3loManifest $c -Reference $($store.Uri)team/" |
            Should -Be @("$($store.Uri)team/api", "$($store.Uri)team/multi", "$($store.Uri)team/web")
        Get-Completion "Get-S3loManifest $c -Reference $($store.Uri)team/api:" | Should -Be @("$($store.Uri)team/api:v1", "$($store.Uri)team/api:v2")
        Get-Completion "Copy-S3loImage $c $($store.Uri)tools/" | Should -Be @("$($store.Uri)tools/runner")
    }

    It 'completes -Platform from the index the reference names' {
        Get-Completion "Get-S3loManifest $($store.Uri)team/multi:v1 $c -Platform " | Should -Be @('linux/amd64', 'linux/arm/v7')
        Get-Completion "Save-S3loImage -Store $($store.Uri) -Name team/multi -Tag v1 $c -Platform linux/arm" | Should -Be @('linux/arm/v7')
        Get-Completion "Get-S3loManifest $($store.Uri)team/api:v1 $c -Platform " | Should -BeNullOrEmpty -Because 'a single image has no platform to choose'
    }

    It 'answers from its cache for a minute' {
        Get-Completion "Get-S3loImage $($store.Uri) $c -Name tools/" | Should -Be @('tools/runner')
        $null = Push-S3loImage $Layout "$($store.Uri)tools/builder:v1" -SourceTag amd @p
        Get-Completion "Get-S3loImage $($store.Uri) $c -Name tools/" | Should -Be @('tools/runner') -Because 'the listing is kept for a minute'
    }
}

Describe 'Completion from a store that cannot be reached' {
    BeforeAll {
        # Real sockets on 127.0.0.1: a port nothing listens on, and one that accepts connections and never answers.
        $free = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, 0)
        try { $free.Start(); $script:RefusedPort = $free.LocalEndpoint.Port } finally { $free.Stop() }
        $script:Silent = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, 0)
        $Silent.Start(16)
        $script:SilentPort = $Silent.LocalEndpoint.Port
        $global:CompletionCredential = [pscredential]::new('nobody', (ConvertTo-SecureString 'nothing' -AsPlainText -Force))
    }

    AfterAll {
        $Silent.Stop()
    }

    It 'answers nothing, without an error, for <What>' -ForEach @(
        @{ What = 'an S3 endpoint that refuses'; Line = { "Get-S3loImage s3://images/ -EndpointUrl http://127.0.0.1:$RefusedPort -Credential `$global:CompletionCredential -Name " } }
        @{ What = 'an S3 endpoint that never answers'; Line = { "Get-S3loManifest -EndpointUrl http://127.0.0.1:$SilentPort -Credential `$global:CompletionCredential -Reference s3://images/team/" } }
        @{ What = 'an Azure endpoint that never answers'; Line = { "Get-S3loImage az://images/ -EndpointUrl http://127.0.0.1:$SilentPort/devstoreaccount1 -StorageAccountName devstoreaccount1 -StorageAccountKey 'a2V5' -Name " } }
        @{ What = 'a local store that does not exist'; Line = { "Get-S3loImage $(Join-Path $Work 'no-such-store') -Name " } }
        @{ What = 'a malformed reference'; Line = { 'Get-S3loManifest -Reference s3://' } }
    ) {
        $Error.Clear()
        $clock = [Diagnostics.Stopwatch]::StartNew()
        $answers = Get-Completion (& $Line)
        $clock.Stop()
        $answers | Should -BeNullOrEmpty
        $Error | Where-Object { "$_" -match 'S3lo|Amazon|Azure' } | Should -BeNullOrEmpty
        # Not a speed measurement: a guard that the completion gave up on its own rather than waiting out the SDK's
        # timeouts (minutes for a server that never answers) or its background listing (20 s).
        $clock.Elapsed.TotalSeconds | Should -BeLessThan 10
        Write-Host "    completion for $What answered in $([int]$clock.Elapsed.TotalMilliseconds) ms"
    }
}
