# Push-S3loImage to a real S3 server (Ceph RGW) over HTTPS and over plain HTTP: how each blob's body is sent, and that a
# blob that does not match its digest is stored on neither. The server's own request log (debug level 20) shows the
# headers each PUT arrived with.
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'StoreHelpers.psm1') -Force
    $script:Suite = Initialize-TestSuite -Name https
    $script:Work = $Suite.Work
    $script:Server = Start-TestS3Server -Https
    # Layers above 8 MiB go up as one PUT streamed from the file; the config and the manifest as PUTs of bytes in memory.
    $script:Layout = New-TestImage -Path (Join-Path $Work 'layout') -Layers 2 -LayerSize 9MB -Tag v1
    $manifest = Get-TestLayoutManifest -Layout $Layout -Tag v1 | ConvertFrom-Json
    $script:Blobs = @(@($manifest.config.digest) + @($manifest.layers.digest) | ForEach-Object { $_.Substring(7) })
    $script:RgwLog = Join-Path $Server.Base 'log/client.rgw.test.log'
    $null = Invoke-TestProgram ceph @('--admin-daemon', (Join-Path $Server.Base 'run/client.rgw.test.asok'), 'config', 'set', 'debug_rgw', '20')

    function Invoke-ChildPush([string] $EndpointUrl, [string] $Path, [string] $Reference) {
        # .NET reads SSL_CERT_FILE once per process, when it first builds its certificate store: the push runs in a pwsh
        # of its own that trusts the server's self-signed certificate.
        $command = "Import-Module '$env:S3LO_MODULE_PATH'; " +
            "`$c = [pscredential]::new('$($Server.AccessKey)', (ConvertTo-SecureString '$($Server.SecretKey)' -AsPlainText -Force)); " +
            "try { `$r = Push-S3loImage '$Path' '$Reference' -EndpointUrl '$EndpointUrl' -Credential `$c -Chunked:`$false -ErrorAction Stop; " +
            "'RESULT uploaded ' + `$r.BlobsUploaded } catch { 'RESULT error ' + `$_.FullyQualifiedErrorId }"
        $saved = $env:SSL_CERT_FILE
        $env:SSL_CERT_FILE = $Server.CertificateFile
        try { Invoke-TestPwsh $command | Where-Object { "$_".StartsWith('RESULT ') } | Select-Object -Last 1 } finally { $env:SSL_CERT_FILE = $saved }
    }

    function Get-ServerPut([string] $Bucket) {
        # RGW logs each request's environment (twice) one line per variable, in name order (HTTP_* before REQUEST_*),
        # prefixed by the id of the thread serving it; requests served at once interleave by thread.
        $open = @{}
        $(
        foreach ($line in [IO.File]::ReadAllLines($RgwLog)) {
            if ($line -notmatch '^\S+ (\w+) 20 (HTTP_X_AMZ_CHECKSUM_SHA256|HTTP_X_AMZ_CONTENT_SHA256|HTTP_X_AMZ_COPY_SOURCE|REQUEST_METHOD|REQUEST_URI)=(.*)$') { continue }
            $thread, $name, $value = $Matches[1], $Matches[2], $Matches[3]
            if (-not $open[$thread]) { $open[$thread] = @{} }
            $open[$thread][$name] = $value
            if ($name -eq 'REQUEST_URI') {
                $r = $open[$thread]; $open.Remove($thread)
                # a PUT with a copy source is a touch (the blob copied onto itself), not an upload
                if ($r.REQUEST_METHOD -eq 'PUT' -and -not $r.HTTP_X_AMZ_COPY_SOURCE -and $value.StartsWith("/$Bucket/blobs/sha256/")) {
                    [pscustomobject]@{ Blob = $value.Substring("/$Bucket/blobs/sha256/".Length); ContentSha256 = $r.HTTP_X_AMZ_CONTENT_SHA256; ChecksumSha256 = $r.HTTP_X_AMZ_CHECKSUM_SHA256 }
                }
            }
        }
        ) | Sort-Object Blob, ContentSha256, ChecksumSha256 -Unique   # each request is logged twice
    }

    function ConvertTo-Base64Digest([string] $Hex) { [Convert]::ToBase64String([Convert]::FromHexString($Hex)) }
}

AfterAll {
    Stop-TestS3Server $script:Server
    Complete-TestSuite $script:Suite
}

Describe 'A push to S3 over HTTPS' {
    It 'sends each blob unsigned, with its digest as x-amz-checksum-sha256, and stores it whole' {
        New-TestBucket -Server $Server -Name 'over-https'
        Invoke-ChildPush $Server.HttpsEndpointUrl $Layout 's3://over-https/app:v1' | Should -Be "RESULT uploaded $($Blobs.Count)"

        $puts = @(Get-ServerPut 'over-https')
        @($puts.Blob | Sort-Object) | Should -Be @($Blobs | Sort-Object)
        foreach ($put in $puts) {
            $put.ContentSha256 | Should -Be 'UNSIGNED-PAYLOAD' -Because "TLS protects blob $($put.Blob) in transit"
            $put.ChecksumSha256 | Should -Be (ConvertTo-Base64Digest $put.Blob)
        }
        # read back over plain HTTP, each blob hashed by the test
        $saved = Join-Path $Work 'saved-https'
        $p = @{ EndpointUrl = $Server.EndpointUrl; Credential = [pscredential]::new($Server.AccessKey, (ConvertTo-SecureString $Server.SecretKey -AsPlainText -Force)) }
        Save-S3loImage 's3://over-https/app:v1' @p -Path $saved -Format OciLayout | Out-Null
        foreach ($blob in $Blobs) { Get-TestSha256 ([IO.File]::ReadAllBytes((Join-Path $saved "blobs/sha256/$blob"))) -Hex | Should -Be $blob }
    }

    It 'refuses a layer that does not match its digest, and stores nothing under it' {
        New-TestBucket -Server $Server -Name 'bad-https'
        $bad = New-TestCorruptLayout -Layout $Layout -Path (Join-Path $Work 'corrupt-layout')
        $corrupt, $layer = $bad.Path, $bad.Layer

        Invoke-ChildPush $Server.HttpsEndpointUrl $corrupt 's3://bad-https/app:v1' | Should -Be 'RESULT error DigestMismatch,S3lo.PowerShell.Commands.PushS3loImageCommand'
        $keys = @(Get-TestS3ObjectList -Server $Server -Bucket 'bad-https')
        $keys | Should -Not -Contain "blobs/sha256/$layer"
        $keys | Should -Not -Contain 'manifests/app/v1/manifest.json'
    }
}

Describe 'A push to S3 over plain HTTP' {
    It 'signs each blob with its digest, which the server checks' {
        New-TestBucket -Server $Server -Name 'over-http'
        Invoke-ChildPush $Server.EndpointUrl $Layout 's3://over-http/app:v1' | Should -Be "RESULT uploaded $($Blobs.Count)"

        $puts = @(Get-ServerPut 'over-http')
        @($puts.Blob | Sort-Object) | Should -Be @($Blobs | Sort-Object)
        foreach ($put in $puts) { $put.ContentSha256 | Should -Be $put.Blob }
    }
}
