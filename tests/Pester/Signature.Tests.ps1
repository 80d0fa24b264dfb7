# Set-, Get- and Test-S3loImageSignature: records of FORMAT.md's Signing section, checked by openssl over the payload
# rebuilt here; cosign key files made by PyNaCl; KMS against moto's local KMS server.
BeforeDiscovery {
    $script:StoreKinds = @(@{ Kind = 'local' }, @{ Kind = 's3' }, @{ Kind = 'az' })
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'StoreHelpers.psm1') -Force
    $script:Suite = Initialize-TestSuite -Name sign -S3 -Azure
    $script:Work = $Suite.Work
    $script:Server = $Suite.Server
    $script:Layout = New-TestImage -Path (Join-Path $Work 'layout') -Layers 1 -LayerSize 20KB -Tag v1
    $script:Other = New-TestImage -Path (Join-Path $Work 'other') -Layers 1 -LayerSize 10KB -Tag v1
    $script:Keys = Join-Path $Work 'keys'
    $null = New-Item -ItemType Directory $Keys
    # Keys made by openssl: ECDSA P-256 and RSA, private and public PEM, and the public key's DER.
    foreach ($k in 'ec', 'rsa', 'ec2') {
        if ($k -eq 'rsa') { Invoke-TestProgram openssl @('genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', "$Keys/$k.key") | Out-Null }
        else { Invoke-TestProgram openssl @('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', "$Keys/$k.key") | Out-Null }
        Invoke-TestProgram openssl @('pkey', '-in', "$Keys/$k.key", '-pubout', '-out', "$Keys/$k.pub") | Out-Null
        Invoke-TestProgram openssl @('pkey', '-pubin', '-in', "$Keys/$k.pub", '-outform', 'DER', '-out', "$Keys/$k.pub.der") | Out-Null
    }
    # A cosign key file of the ec key, sealed by PyNaCl (the system python3's python3-nacl).
    Invoke-TestProgram openssl @('pkcs8', '-topk8', '-nocrypt', '-in', "$Keys/ec.key", '-outform', 'DER', '-out', "$Keys/ec.pk8") | Out-Null
    Invoke-TestProgram /usr/bin/python3 @((Join-Path $PSScriptRoot 'fixtures/make-cosign-key.py'), "$Keys/ec.pk8", 'correct horse', "$Keys/cosign.key") | Out-Null

    function Get-KeyId([string] $DerPath) { (Get-FileHash -Algorithm SHA256 $DerPath).Hash.ToLowerInvariant().Substring(0, 16) }

    function Assert-OpensslVerifies($Store, [string] $Name, [string] $Tag, [string] $PublicKey, [string] $KeyId, [string] $SignedStore = $Store.Root) {
        # The payload as FORMAT.md defines it, rebuilt from the reference, and the record's DER signature, checked by openssl.
        $record = [Text.Encoding]::UTF8.GetString((Get-TestStoreObject $Store "manifests/$Name/$Tag/signatures/$KeyId.json")) | ConvertFrom-Json
        $digest = (Get-TestSha256 (Get-TestStoreObject $Store "manifests/$Name/$Tag/manifest.json"))
        $record.digest | Should -Be $digest
        $payload = Join-Path $Work "payload-$([guid]::NewGuid().ToString('N'))"
        [IO.File]::WriteAllBytes($payload, [Text.Encoding]::UTF8.GetBytes("s3lo-signature-v2`n$SignedStore/$($Name):$Tag`n$digest`n"))
        [IO.File]::WriteAllBytes("$payload.sig", [Convert]::FromBase64String($record.signature))
        Invoke-TestProgram openssl @('dgst', '-sha256', '-verify', $PublicKey, '-signature', "$payload.sig", $payload) | Should -Match 'Verified OK'
        $record
    }
}

AfterAll {
    Complete-TestSuite $script:Suite
}

Describe 'Signatures on a <Kind> store' -ForEach $StoreKinds {
    BeforeEach {
        $store = New-TestStore -Kind $Kind -Root $Work -Server $Server
        $p = $store.Params
        $ref = "$($store.Uri)app:v1"
        $null = Push-S3loImage $Layout $ref @p
    }

    It 'signs with a PEM <_> key; openssl verifies the record and the key ID is of its DER' -ForEach 'ec', 'rsa' {
        $keyId = Get-KeyId "$Keys/$_.pub.der"
        $signed = Set-S3loImageSignature $ref -KeyPath "$Keys/$_.key" @p
        $signed.KeyId | Should -Be $keyId
        $record = Assert-OpensslVerifies $store 'app' 'v1' "$Keys/$_.pub" $keyId
        $record.schemaVersion | Should -Be 2
        $record.keyID | Should -Be $keyId
        $record.keyRef | Should -Be "$Keys/$_.key"
        $record.algorithm | Should -Be $(if ($_ -eq 'ec') { 'ECDSA_SHA_256' } else { 'RSA_PKCS1_SHA_256' })
        [Text.Encoding]::UTF8.GetString((Get-TestStoreObject $store "manifests/app/v1/signatures/$keyId.json")) |
            Should -Match '"signedAt":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"'
        @($record.PSObject.Properties.Name) | Should -Be @('schemaVersion', 'digest', 'keyRef', 'keyID', 'algorithm', 'signature', 'signedAt')

        Test-S3loImageSignature $ref -PublicKeyPath "$Keys/$_.pub" @p | Should -BeTrue
        $listed = Get-S3loImageSignature $ref -PublicKeyPath "$Keys/$_.pub" @p
        $listed.Status | Should -Be 'Valid'
        $listed.Digest | Should -Be $record.digest
        $listed.Algorithm | Should -Be $record.algorithm
    }

    It 'verifies a record made outside S3lo, by openssl, as s3lo writes it' {
        $keyId = Get-KeyId "$Keys/rsa.pub.der"
        $digest = Get-TestSha256 (Get-TestStoreObject $store 'manifests/app/v1/manifest.json')
        $payload = Join-Path $Work "outside-$Kind"
        [IO.File]::WriteAllBytes($payload, [Text.Encoding]::UTF8.GetBytes("s3lo-signature-v2`n$($store.Root)/app:v1`n$digest`n"))
        Invoke-TestProgram openssl @('dgst', '-sha256', '-sign', "$Keys/rsa.key", '-out', "$payload.sig", $payload) | Out-Null
        $record = [ordered]@{ schemaVersion = 2; digest = $digest; keyRef = 'awskms:///alias/elsewhere'; keyID = $keyId; algorithm = 'RSA_PKCS1_SHA_256'
            signature = [Convert]::ToBase64String([IO.File]::ReadAllBytes("$payload.sig")); signedAt = '2026-01-02T03:04:05Z' }
        Set-TestStoreObject $store "manifests/app/v1/signatures/$keyId.json" ([Text.Encoding]::UTF8.GetBytes(($record | ConvertTo-Json -Compress)))

        $listed = Get-S3loImageSignature $ref -PublicKeyPath "$Keys/rsa.pub" @p
        $listed.Status | Should -Be 'Valid'
        $listed.KeyRef | Should -Be 'awskms:///alias/elsewhere'
        $listed.SignedAt | Should -Be ([DateTimeOffset]'2026-01-02T03:04:05Z')
        Test-S3loImageSignature $ref -PublicKeyPath "$Keys/rsa.pub" @p | Should -BeTrue
    }

    It 'signs from the pipeline with a cosign key file and COSIGN_PASSWORD, or -Password' {
        $env:COSIGN_PASSWORD = 'correct horse'
        try { Get-S3loImage $ref @p | Set-S3loImageSignature -KeyPath "$Keys/cosign.key" | Out-Null }
        finally { Remove-Item Env:COSIGN_PASSWORD }
        $keyId = Get-KeyId "$Keys/ec.pub.der"
        $null = Assert-OpensslVerifies $store 'app' 'v1' "$Keys/ec.pub" $keyId

        $null = Push-S3loImage $Layout "$($store.Uri)app:v2" @p
        $password = ConvertTo-SecureString 'correct horse' -AsPlainText -Force
        $null = Set-S3loImageSignature "$($store.Uri)app:v2" -KeyPath "$Keys/cosign.key" -Password $password @p
        $null = Assert-OpensslVerifies $store 'app' 'v2' "$Keys/ec.pub" $keyId
    }

    It 'reports a wrong key, a tampered record and an unknown schema' {
        $null = Set-S3loImageSignature $ref -KeyPath "$Keys/ec.key" @p
        $keyId = Get-KeyId "$Keys/ec.pub.der"
        Test-S3loImageSignature $ref -PublicKeyPath "$Keys/ec2.pub" @p | Should -BeFalse
        (Test-S3loImageSignature $ref -PublicKeyPath "$Keys/ec2.pub" -Detailed @p).Status | Should -Be 'NotSigned'
        (Get-S3loImageSignature $ref -PublicKeyPath "$Keys/ec2.pub" @p).Status | Should -Be 'UnknownKey'

        $key = "manifests/app/v1/signatures/$keyId.json"
        $record = [Text.Encoding]::UTF8.GetString((Get-TestStoreObject $store $key)) | ConvertFrom-Json
        $signature = [Convert]::FromBase64String($record.signature)
        $signature[-1] = $signature[-1] -bxor 1
        $record.signature = [Convert]::ToBase64String($signature)
        Set-TestStoreObject $store $key ([Text.Encoding]::UTF8.GetBytes(($record | ConvertTo-Json -Compress)))
        $verdict = Test-S3loImageSignature $ref -PublicKeyPath "$Keys/ec.pub" -Detailed @p
        $verdict.IsValid | Should -BeFalse
        $verdict.Status | Should -Be 'Invalid'
        Test-S3loImageSignature $ref -PublicKeyPath "$Keys/ec.pub" @p | Should -BeFalse

        $record.schemaVersion = 3
        Set-TestStoreObject $store $key ([Text.Encoding]::UTF8.GetBytes(($record | ConvertTo-Json -Compress)))
        (Get-S3loImageSignature $ref -PublicKeyPath "$Keys/ec.pub" @p).Status | Should -Be 'UnsupportedSchema'
        (Test-S3loImageSignature $ref -PublicKeyPath "$Keys/ec.pub" -Detailed @p).Status | Should -Be 'UnsupportedSchema'
    }

    It 'does not verify a signature moved to another tag' {
        $null = Push-S3loImage $Layout "$($store.Uri)app:prod" @p
        $null = Set-S3loImageSignature $ref -KeyPath "$Keys/ec.key" @p
        $keyId = Get-KeyId "$Keys/ec.pub.der"
        Set-TestStoreObject $store "manifests/app/prod/signatures/$keyId.json" (Get-TestStoreObject $store "manifests/app/v1/signatures/$keyId.json")
        (Test-S3loImageSignature "$($store.Uri)app:prod" -PublicKeyPath "$Keys/ec.pub" -Detailed @p).Status | Should -Be 'Invalid'
    }

    It 'removes the record when a push changes the tag, keeps it when the same image is pushed again; a left-behind record is ManifestChanged' {
        $null = Set-S3loImageSignature $ref -KeyPath "$Keys/ec.key" @p
        $keyId = Get-KeyId "$Keys/ec.pub.der"
        $key = "manifests/app/v1/signatures/$keyId.json"
        $null = Push-S3loImage $Layout $ref @p
        Test-S3loImageSignature $ref -PublicKeyPath "$Keys/ec.pub" @p | Should -BeTrue
        $saved = Get-TestStoreObject $store $key

        $null = Push-S3loImage $Other $ref @p
        Get-TestStoreKey $store -Prefix 'manifests/app/v1/signatures/' | Should -BeNullOrEmpty
        @(Get-S3loImageSignature $ref @p).Count | Should -Be 0
        (Test-S3loImageSignature $ref -PublicKeyPath "$Keys/ec.pub" -Detailed @p).Status | Should -Be 'NotSigned'

        # As s3lo leaves it after its own push: the old record beside the new manifest.
        Set-TestStoreObject $store $key $saved
        $verdict = Test-S3loImageSignature $ref -PublicKeyPath "$Keys/ec.pub" -Detailed @p
        $verdict.Status | Should -Be 'ManifestChanged'
        $verdict.IsValid | Should -BeFalse
    }

    It 'keeps the records of a live tag through garbage collection' {
        $null = Set-S3loImageSignature $ref -KeyPath "$Keys/ec.key" @p
        $null = Remove-S3loStaleBlob $store.Uri -GracePeriod ([TimeSpan]::Zero) -Confirm:$false @p
        Get-TestStoreKey $store -Prefix 'manifests/app/v1/signatures/' | Should -Not -BeNullOrEmpty
        Test-S3loImageSignature $ref -PublicKeyPath "$Keys/ec.pub" @p | Should -BeTrue
    }

    It 'removes the record when a copy changes the tag' {
        $null = Set-S3loImageSignature $ref -KeyPath "$Keys/ec.key" @p
        $null = Push-S3loImage $Other "$($store.Uri)other:v1" @p
        $null = Copy-S3loImage "$($store.Uri)other:v1" $ref @p
        Get-TestStoreKey $store -Prefix 'manifests/app/v1/signatures/' | Should -BeNullOrEmpty
    }

    It 'fails with InvalidKey, KeyPasswordRequired and WrongKeyPassword, writing nothing' {
        { Set-S3loImageSignature $ref -KeyPath "$Keys/ec.pub" @p } | Should -Throw -ErrorId 'InvalidKey,S3lo.PowerShell.Commands.SetS3loImageSignatureCommand'
        { Set-S3loImageSignature $ref -KeyPath "$Keys/cosign.key" @p } | Should -Throw -ErrorId 'KeyPasswordRequired,S3lo.PowerShell.Commands.SetS3loImageSignatureCommand'
        $wrong = ConvertTo-SecureString 'wrong' -AsPlainText -Force
        { Set-S3loImageSignature $ref -KeyPath "$Keys/cosign.key" -Password $wrong @p } | Should -Throw -ErrorId 'WrongKeyPassword,S3lo.PowerShell.Commands.SetS3loImageSignatureCommand'
        { Set-S3loImageSignature $ref @p } | Should -Throw -ErrorId 'InvalidArgument,S3lo.PowerShell.Commands.SetS3loImageSignatureCommand'
        Set-S3loImageSignature $ref -KeyPath "$Keys/ec.key" -WhatIf @p
        Get-TestStoreKey $store -Prefix 'manifests/app/v1/signatures/' | Should -BeNullOrEmpty
    }

    It 'is a terminating error, not $false, for a tag that does not exist' {
        { Test-S3loImageSignature "$($store.Uri)app:missing" -PublicKeyPath "$Keys/ec.pub" -ErrorAction Continue @p } |
            Should -Throw -ErrorId 'ImageNotFound,S3lo.PowerShell.Commands.TestS3loImageSignatureCommand'
    }
}

Describe 'Cosign key files of older cosign versions' {
    It 'reads ENCRYPTED COSIGN PRIVATE KEY' {
        Invoke-TestProgram /usr/bin/python3 @((Join-Path $PSScriptRoot 'fixtures/make-cosign-key.py'), "$Keys/ec.pk8", 'pw', "$Keys/old-cosign.key", 'ENCRYPTED COSIGN PRIVATE KEY') | Out-Null
        $store = New-TestStore -Kind local -Root $Work
        $null = Push-S3loImage $Layout "$($store.Uri)app:v1"
        $signed = Set-S3loImageSignature "$($store.Uri)app:v1" -KeyPath "$Keys/old-cosign.key" -Password (ConvertTo-SecureString 'pw' -AsPlainText -Force)
        $null = Assert-OpensslVerifies $store 'app' 'v1' "$Keys/ec.pub" $signed.KeyId
    }
}

Describe 'Certificates' {
    BeforeAll {
        Invoke-TestProgram openssl @('req', '-x509', '-new', '-key', "$Keys/ec.key", '-subj', '/CN=s3lo-test', '-days', '2', '-out', "$Keys/ec.crt") | Out-Null
        $script:Certificate = [Security.Cryptography.X509Certificates.X509Certificate2]::CreateFromPemFile("$Keys/ec.crt", "$Keys/ec.key")
        $script:PublicOnly = [Security.Cryptography.X509Certificates.X509Certificate2]::new("$Keys/ec.crt")
    }

    It 'signs with a certificate''s private key and verifies with the certificate' {
        $store = New-TestStore -Kind local -Root $Work
        $ref = "$($store.Uri)app:v1"
        $null = Push-S3loImage $Layout $ref
        $signed = Set-S3loImageSignature $ref -Certificate $Certificate
        $signed.KeyId | Should -Be (Get-KeyId "$Keys/ec.pub.der")
        $null = Assert-OpensslVerifies $store 'app' 'v1' "$Keys/ec.pub" $signed.KeyId
        Test-S3loImageSignature $ref -Certificate $PublicOnly | Should -BeTrue
        Test-S3loImageSignature $ref -PublicKeyPath "$Keys/ec.crt" | Should -BeTrue
        { Set-S3loImageSignature $ref -Certificate $PublicOnly } | Should -Throw -ErrorId 'InvalidKey,S3lo.PowerShell.Commands.SetS3loImageSignatureCommand'
    }
}

Describe 'Reading the store' {
    It 'is a terminating error, never $false, when the store cannot be reached' {
        $listener = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, 0)
        try { $listener.Start(); $closed = $listener.LocalEndpoint.Port } finally { $listener.Stop() }
        $params = @{ EndpointUrl = "http://127.0.0.1:$closed"; Credential = [pscredential]::new('x', (ConvertTo-SecureString 'y' -AsPlainText -Force)) }
        $result = $null
        { $result = Test-S3loImageSignature 's3://nobucket/app:v1' -PublicKeyPath "$Keys/ec.pub" @params -ErrorAction Continue } |
            Should -Throw -ErrorId 'StoreUnreachable,S3lo.PowerShell.Commands.TestS3loImageSignatureCommand'
        $result | Should -BeNullOrEmpty
    }

    It 'signs the root of a local reference as written, as s3lo does' {
        $root = Join-Path $Work 'relative'
        $null = New-Item -ItemType Directory $root
        Push-Location $root
        try {
            $null = New-TestLocalStore (Join-Path $root 'store')
            $null = Push-S3loImage $Layout 'local://./store/org/app:v1'
            $signed = Set-S3loImageSignature 'local://./store/org/app:v1' -KeyPath "$Keys/ec.key"
            # s3lo reads local://./store/org/app:v1 as root ./store and image org/app: the payload names ./store/org/app:v1.
            $store = [pscustomobject]@{ Kind = 'local'; Root = "$root/store"; Uri = "local://$root/store/"; Params = @{} }
            $null = Assert-OpensslVerifies $store 'org/app' 'v1' "$Keys/ec.pub" $signed.KeyId -SignedStore './store'
            Test-S3loImageSignature 'local://./store/org/app:v1' -PublicKeyPath "$Keys/ec.pub" | Should -BeTrue
        }
        finally { Pop-Location }
    }
}

Describe 'AWS KMS keys (moto''s KMS server on 127.0.0.1)' {
    BeforeAll {
        $listener = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, 0)
        try { $listener.Start(); $port = $listener.LocalEndpoint.Port } finally { $listener.Stop() }
        $script:Moto = Start-Process -FilePath moto_server -ArgumentList '-H', '127.0.0.1', '-p', "$port" -PassThru `
            -RedirectStandardOutput (Join-Path $Work 'moto.out') -RedirectStandardError (Join-Path $Work 'moto.err')
        $script:KmsEndpoint = "http://127.0.0.1:$port"
        $script:SavedEndpoint = $env:AWS_ENDPOINT_URL_KMS
        $env:AWS_ENDPOINT_URL_KMS = $KmsEndpoint
        $script:Aws = @{ Region = 'us-east-1'; Credential = [pscredential]::new('testing', (ConvertTo-SecureString 'testing' -AsPlainText -Force)) }
        # The key is made and its public key fetched through boto3, not through S3lo.
        $script:KmsPublic = Join-Path $Keys 'kms.pub.der'
        $make = @"
import boto3, sys, time
for attempt in range(50):
    try:
        kms = boto3.client('kms', endpoint_url='$KmsEndpoint', region_name='us-east-1', aws_access_key_id='testing', aws_secret_access_key='testing')
        key = kms.create_key(KeySpec='ECC_NIST_P256', KeyUsage='SIGN_VERIFY')['KeyMetadata']['KeyId']
        break
    except Exception:
        time.sleep(0.2)
kms.create_alias(AliasName='alias/s3lo-test', TargetKeyId=key)
open('$KmsPublic', 'wb').write(kms.get_public_key(KeyId=key)['PublicKey'])
"@
        Invoke-TestProgram python3 @('-c', $make) | Out-Null
        Invoke-TestProgram openssl @('pkey', '-pubin', '-inform', 'DER', '-in', $KmsPublic, '-out', "$Keys/kms.pub") | Out-Null
    }

    AfterAll {
        $env:AWS_ENDPOINT_URL_KMS = $SavedEndpoint
        if ($Moto) { Stop-Process -Id $Moto.Id -ErrorAction Ignore }
    }

    It 'signs with awskms:///alias/…; openssl verifies with the key KMS gives out, and S3lo verifies through KMS' {
        $store = New-TestStore -Kind s3 -Root $Work -Server $Server
        $p = $store.Params
        $ref = "$($store.Uri)app:v1"
        $null = Push-S3loImage $Layout $ref @p
        # The S3 parameters reach the test S3 server; the KMS endpoint comes from AWS_ENDPOINT_URL_KMS.
        $signed = Set-S3loImageSignature $ref -KeyPath 'awskms:///alias/s3lo-test' @p
        $signed.KeyId | Should -Be (Get-KeyId $KmsPublic)
        $signed.KeyRef | Should -Be 'awskms:///alias/s3lo-test'
        $null = Assert-OpensslVerifies $store 'app' 'v1' "$Keys/kms.pub" $signed.KeyId
        Test-S3loImageSignature $ref -PublicKeyPath 'awskms:///alias/s3lo-test' @p | Should -BeTrue
        Test-S3loImageSignature $ref -PublicKeyPath "$Keys/kms.pub" @p | Should -BeTrue
    }

    It 'fails with SigningFailed for a key KMS does not have' {
        $store = New-TestStore -Kind local -Root $Work
        $null = Push-S3loImage $Layout "$($store.Uri)app:v1"
        { Set-S3loImageSignature "$($store.Uri)app:v1" -KeyPath 'awskms:///alias/missing' @Aws } |
            Should -Throw -ErrorId 'SigningFailed,S3lo.PowerShell.Commands.SetS3loImageSignatureCommand'
    }
}

Describe 'Start-S3loServer -RequireSignature' {
    BeforeAll {
        $script:GateStore = New-TestLocalStore (Join-Path $Work 'gate-store')
        $script:Signed = Push-S3loImage $Layout "local://$GateStore/app:signed"
        $script:Unsigned = Push-S3loImage $Other "local://$GateStore/app:unsigned"
        $null = Push-S3loImage $Other "local://$GateStore/app:otherkey"
        $null = Set-S3loImageSignature "local://$GateStore/app:signed" -KeyPath "$Keys/ec.key"
        $null = Set-S3loImageSignature "local://$GateStore/app:otherkey" -KeyPath "$Keys/ec2.key"
        $script:GateJob = Start-ThreadJob -ArgumentList $env:S3LO_MODULE_PATH, $GateStore, "$Keys/ec.pub" {
            param($ModulePath, $Store, $PublicKey)
            Import-Module $ModulePath
            Start-S3loServer $Store -Port 0 -RequireSignature -PublicKeyPath $PublicKey -CacheDuration ([TimeSpan]::Zero)
        }
        $deadline = [DateTime]::UtcNow.AddSeconds(30)
        while (-not ($script:GateEndpoint = $GateJob | Receive-Job -Keep | Select-Object -First 1) -and $GateJob.State -in 'NotStarted', 'Running' -and [DateTime]::UtcNow -lt $deadline) {
            Start-Sleep -Milliseconds 100
        }
        function Get-Manifest([string] $Reference) {
            Invoke-WebRequest "$($GateEndpoint.Url)v2/app/manifests/$Reference" -SkipHttpErrorCheck -Headers @{ Accept = 'application/vnd.oci.image.manifest.v1+json' }
        }
    }

    AfterAll {
        if ($GateJob) { $GateJob | Stop-Job -PassThru | Remove-Job -Force }
    }

    It 'serves a signed tag and its manifest by digest, and answers 403 DENIED for the rest' {
        $GateEndpoint | Should -Not -BeNullOrEmpty -Because ($GateJob | Receive-Job -Keep -ErrorAction Continue 2>&1 | Out-String)
        (Get-Manifest 'signed').StatusCode | Should -Be 200
        (Get-Manifest $Signed.Digest).StatusCode | Should -Be 200
        foreach ($reference in 'unsigned', 'otherkey', $Unsigned.Digest) {
            $response = Get-Manifest $reference
            $response.StatusCode | Should -Be 403 -Because $reference
            ($response.Content | ConvertFrom-Json).errors[0].code | Should -Be 'DENIED'
        }
    }

    It 'serves the blobs of signed images only' {
        $signedConfig = (Get-S3loManifest "local://$GateStore/app:signed").Config.Digest
        $unsignedConfig = (Get-S3loManifest "local://$GateStore/app:unsigned").Config.Digest
        $signedConfig | Should -Not -Be $unsignedConfig
        (Invoke-WebRequest "$($GateEndpoint.Url)v2/app/blobs/$signedConfig" -SkipHttpErrorCheck).StatusCode | Should -Be 200
        $denied = Invoke-WebRequest "$($GateEndpoint.Url)v2/app/blobs/$unsignedConfig" -SkipHttpErrorCheck
        $denied.StatusCode | Should -Be 403
        ($denied.Content | ConvertFrom-Json).errors[0].code | Should -Be 'DENIED'
    }

    It 'stops serving a tag pushed again with an unsigned image' {
        $null = Push-S3loImage $Other "local://$GateStore/app:signed"
        (Get-Manifest 'signed').StatusCode | Should -Be 403
        $null = Set-S3loImageSignature "local://$GateStore/app:signed" -KeyPath "$Keys/ec.key"
        (Get-Manifest 'signed').StatusCode | Should -Be 200
    }
}
