# Start-S3loServer: a local store served under Start-ThreadJob on a free port, pulled through with skopeo, stopped with Stop-Job.
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'StoreHelpers.psm1') -Force
    $script:Suite = Initialize-TestSuite -Name server
    $script:Work = $Suite.Work
    $script:Layout = New-TestImage -Path (Join-Path $Work 'layout') -Layers 2 -LayerSize 50KB -Tag v1
    $script:Store = New-TestLocalStore (Join-Path $Work 'store')
    $script:Pushed = Push-S3loImage $Layout "local://$Store/app:v1"

    function Start-TestServerJob {
        param([hashtable] $Parameters = @{}, [string] $Source = $Store)
        $job = Start-ThreadJob -ArgumentList $env:S3LO_MODULE_PATH, $Source, $Parameters {
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

    It 'serves HTTPS with a -Certificate object, pulled by skopeo trusting it through --src-cert-dir' {
        $key = [System.Security.Cryptography.RSA]::Create(2048)
        $request = [System.Security.Cryptography.X509Certificates.CertificateRequest]::new('CN=127.0.0.1', $key, 'SHA256',
            [System.Security.Cryptography.RSASignaturePadding]::Pkcs1)
        $san = [System.Security.Cryptography.X509Certificates.SubjectAlternativeNameBuilder]::new()
        $san.AddIpAddress([ipaddress]::Loopback)
        $request.CertificateExtensions.Add($san.Build())
        $certificate = $request.CreateSelfSigned([DateTimeOffset]::UtcNow.AddMinutes(-5), [DateTimeOffset]::UtcNow.AddDays(1))
        $certDir = New-Item -ItemType Directory (Join-Path $Work 'certs')
        Set-Content (Join-Path $certDir 'ca.crt') $certificate.ExportCertificatePem()

        $server = Start-TestServerJob -Parameters @{ Certificate = $certificate }
        try {
            $server.Endpoint | Should -Not -BeNullOrEmpty -Because ($server.Job | Receive-Job -Keep -ErrorAction Continue 2>&1 | Out-String)
            $server.Endpoint.Url | Should -Be "https://127.0.0.1:$($server.Endpoint.Port)/"
            $pulled = Join-Path $Work 'pulled-tls'
            skopeo --insecure-policy copy --src-cert-dir $certDir "docker://127.0.0.1:$($server.Endpoint.Port)/app:v1" "oci:${pulled}:v1"
            $LASTEXITCODE | Should -Be 0
            Get-TestLayoutManifest $pulled -Tag v1 | Should -Be (Get-S3loManifest "local://$Store/app:v1").Json
            # Plain HTTP on the HTTPS port gets no answer.
            { Invoke-WebRequest "http://127.0.0.1:$($server.Endpoint.Port)/v2/" } | Should -Throw
        }
        finally {
            $server.Job | Stop-Job
            $server.Job | Remove-Job
        }
    }

    It 'refuses -Redirect on a local store, whose blobs only the server can hand out' {
        # In a job, so that a server that wrongly starts is stopped instead of serving in the foreground for ever.
        $job = Start-ThreadJob -ArgumentList $env:S3LO_MODULE_PATH, $Store {
            param($ModulePath, $Store)
            Import-Module $ModulePath
            Start-S3loServer $Store -Port 0 -Redirect
        }
        try {
            $job | Wait-Job -Timeout 30 | Out-Null
            $job.State | Should -Be 'Completed'
            $output = $job | Receive-Job -ErrorVariable failures -ErrorAction SilentlyContinue
            $output | Should -BeNullOrEmpty
            $failures.FullyQualifiedErrorId | Should -Be 'RedirectUnsupported,S3lo.PowerShell.Commands.StartS3loServerCommand'
        }
        finally {
            $job | Stop-Job
            $job | Remove-Job
        }
    }

    It 'refuses a -RedirectDuration outside 10 seconds to 7 days' {
        { Start-S3loServer $Store -Port 0 -Redirect -RedirectDuration 00:00:01 } |
            Should -Throw -ErrorId 'InvalidArgument,S3lo.PowerShell.Commands.StartS3loServerCommand'
        { Start-S3loServer $Store -Port 0 -Redirect -RedirectDuration 8.00:00:00 } |
            Should -Throw -ErrorId 'InvalidArgument,S3lo.PowerShell.Commands.StartS3loServerCommand'
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

Describe 'Start-S3loServer -Redirect' {
    BeforeAll {
        $script:Azure = Start-TestAzureServer
        $script:AzStore = New-TestStore -Kind az -Root $Work -Server $Azure
        $azParams = $AzStore.Params
        $null = Push-S3loImage $Layout "$($AzStore.Uri)app:v1" @azParams
    }

    AfterAll {
        if ($script:Azure) { Stop-TestAzureServer $script:Azure }
    }

    It 'sends skopeo to SAS URLs of the Azure container for whole blobs, as Example 6 shows' {
        $server = Start-TestServerJob -Source $AzStore.Uri -Parameters ($AzStore.Params + @{ Redirect = $true; RedirectDuration = [timespan]'00:02:00' })
        try {
            $server.Endpoint | Should -Not -BeNullOrEmpty -Because ($server.Job | Receive-Job -Keep -ErrorAction Continue 2>&1 | Out-String)
            $pulled = Join-Path $Work 'pulled-redirect'
            skopeo --insecure-policy copy --src-tls-verify=false "docker://127.0.0.1:$($server.Endpoint.Port)/app:v1" "oci:${pulled}:v1"
            $LASTEXITCODE | Should -Be 0
            $manifest = Get-TestLayoutManifest $pulled -Tag v1
            $azParams = $AzStore.Params
            $manifest | Should -Be (Get-S3loManifest "$($AzStore.Uri)app:v1" @azParams).Json
            foreach ($digest in Get-TestBlobDigest $manifest) {
                $deadline = [DateTime]::UtcNow.AddSeconds(10)
                $line = "GET /v2/app/blobs/$digest 307 "
                while (-not ($server.Job.Verbose | Out-String).Contains($line) -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 100 }
                ($server.Job.Verbose | Out-String) | Should -BeLike "*$line*"
            }
        }
        finally {
            $server.Job | Stop-Job
            $server.Job | Remove-Job
        }
    }
}
