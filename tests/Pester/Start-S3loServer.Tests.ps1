# Start-S3loServer: a local store served under Start-ThreadJob on a free port, pulled through with skopeo, stopped with Stop-Job.
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'StoreHelpers.psm1') -Force
    $script:Suite = Initialize-TestSuite -Name server
    $script:Work = $Suite.Work
    $script:Layout = New-TestImage -Path (Join-Path $Work 'layout') -Layers 2 -LayerSize 50KB -Tag v1
    $script:Store = New-TestLocalStore (Join-Path $Work 'store')
    $script:Pushed = Push-S3loImage $Layout "local://$Store/app:v1"

    function Start-TestServerJob {
        param([hashtable] $Parameters = @{})
        $job = Start-ThreadJob -ArgumentList $env:S3LO_MODULE_PATH, $Store, $Parameters {
            param($ModulePath, $Store, $Parameters)
            Import-Module $ModulePath
            Start-S3loServer $Store -Port 0 -Verbose @Parameters
        }
        $deadline = [DateTime]::UtcNow.AddSeconds(30)
        while (-not ($endpoint = $job | Receive-Job -Keep | Select-Object -First 1) -and $job.State -in 'NotStarted', 'Running' -and [DateTime]::UtcNow -lt $deadline) {
            Start-Sleep -Milliseconds 100
        }
        [pscustomobject]@{ Job = $job; Endpoint = $endpoint }
    }
}

AfterAll {
    Get-Job | Stop-Job -PassThru | Remove-Job -Force
    Complete-TestSuite $script:Suite
}

Describe 'Start-S3loServer' {
    It 'serves a local store under Start-ThreadJob on a free port until Stop-Job' {
        $server = Start-TestServerJob
        try {
            $server.Endpoint | Should -Not -BeNullOrEmpty -Because ($server.Job | Receive-Job -Keep -ErrorAction Continue 2>&1 | Out-String)
            $server.Endpoint.PSObject.TypeNames | Should -Contain 'S3lo.Core.Server.ServerEndpoint'
            $server.Endpoint.Port | Should -BeGreaterThan 0
            $server.Endpoint.Url | Should -Be "http://127.0.0.1:$($server.Endpoint.Port)/"

            $raw = skopeo inspect --tls-verify=false --raw "docker://127.0.0.1:$($server.Endpoint.Port)/app:v1"
            $LASTEXITCODE | Should -Be 0
            ($raw -join "`n") | Should -Be (Get-S3loManifest "local://$Store/app:v1").Json.TrimEnd("`n")
            # The request log is written to the verbose stream once each response has been sent.
            $deadline = [DateTime]::UtcNow.AddSeconds(10)
            while (-not (($log = $server.Job.Verbose | Out-String) -match 'GET /v2/app/manifests/v1 200') -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 100 }
            $log | Should -Match 'GET /v2/app/manifests/v1 200'
        }
        finally {
            $server.Job | Stop-Job
        }
        $server.Job | Wait-Job -Timeout 40 | Out-Null
        $server.Job.State | Should -Be 'Stopped'
        { [System.Net.Sockets.TcpClient]::new('127.0.0.1', $server.Endpoint.Port).Dispose() } | Should -Throw
        $server.Job | Remove-Job
    }

    It 'refuses a non-loopback address without authentication' {
        { Start-S3loServer $Store -ListenAddress 0.0.0.0 -Port 0 } |
            Should -Throw -ErrorId 'AnonymousListenRefused,S3lo.PowerShell.Commands.StartS3loServerCommand'
    }

    It 'asks for Basic credentials when -Authentication is given' {
        $user = [pscredential]::new('puller', (ConvertTo-SecureString 'pw-1' -AsPlainText -Force))
        $server = Start-TestServerJob -Parameters @{ Authentication = $user }
        try {
            $server.Endpoint | Should -Not -BeNullOrEmpty
            $response = Invoke-WebRequest "$($server.Endpoint.Url)v2/" -SkipHttpErrorCheck
            $response.StatusCode | Should -Be 401
            $response.Headers['WWW-Authenticate'] | Should -Be 'Basic realm="S3lo"'
            (Invoke-WebRequest "$($server.Endpoint.Url)v2/" -Authentication Basic -Credential $user -AllowUnencryptedAuthentication).StatusCode | Should -Be 200
        }
        finally {
            $server.Job | Stop-Job
            $server.Job | Remove-Job
        }
    }
}
