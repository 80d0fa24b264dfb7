# Bad input and failures through every cmdlet: each error a user sees carries one of S3lo's stable error ids (listed in
# S3loException.cs), never an exception's type name such as System.InvalidOperationException.
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'StoreHelpers.psm1') -Force
    $script:Suite = Initialize-TestSuite -Name errorids
    $script:Work = $Suite.Work
    $source = Get-Content -Raw (Join-Path $PSScriptRoot '../../src/S3lo.Core/S3loException.cs')
    $script:S3loIds = @([regex]::Matches($source, 'public const string (\w+) = "(\w+)"') | ForEach-Object { $_.Groups[2].Value })

    $script:Layout = New-TestImage -Path (Join-Path $Work 'layout') -Layers 1 -LayerSize 20KB -Tag v1
    $script:Store = New-TestStore -Kind local -Root $Work
    $script:S = $Store.Uri
    $null = Push-S3loImage $Layout "${S}app:v1"
    $null = Push-S3loImage $Layout "${S}good:v1"
    $manifest = Get-TestLayoutManifest -Layout $Layout -Tag v1
    $layer = (Get-TestBlobDigest $manifest)[1]
    # Damaged tags, each in its own image: manifest.json not JSON, cut short, of another media type, naming a blob
    # that is gone, and a layer blob that does not hash to its name.
    Set-TestStoreObject $Store 'manifests/garbage/v1/manifest.json' ([Text.Encoding]::UTF8.GetBytes('{"schemaVersion": 2, "layers": [nope'))
    Set-TestStoreObject $Store 'manifests/cut/v1/manifest.json' ([Text.Encoding]::UTF8.GetBytes($manifest.Substring(0, $manifest.Length / 2)))
    Set-TestStoreObject $Store 'manifests/odd/v1/manifest.json' ([Text.Encoding]::UTF8.GetBytes('{"schemaVersion": 2, "mediaType": "text/plain"}'))
    Set-TestStoreObject $Store 'manifests/nulls/v1/manifest.json' ([Text.Encoding]::UTF8.GetBytes('{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "config": null, "layers": null}'))
    Set-TestStoreObject $Store 'manifests/missing/v1/manifest.json' ([Text.Encoding]::UTF8.GetBytes($manifest.Replace($layer, 'sha256:' + ('0' * 64))))
    $script:Corrupt = New-TestStore -Kind local -Root $Work
    $null = Push-S3loImage $Layout "$($Corrupt.Uri)app:v1" -Chunked:$false
    Set-TestStoreObject $Corrupt "blobs/sha256/$($layer.Substring(7))" ([byte[]](1..200))
    # A store whose s3lo.yaml cannot be read: YAML that is not a mapping, and values of the wrong kind.
    $script:BadPolicy = New-TestStore -Kind local -Root $Work
    $null = Push-S3loImage $Layout "$($BadPolicy.Uri)app:v1"
    Set-TestStoreObject $BadPolicy 's3lo.yaml' ([Text.Encoding]::UTF8.GetBytes("images:`n  app: [1, 2`n"))
    $script:WrongPolicy = New-TestStore -Kind local -Root $Work
    Set-TestStoreObject $WrongPolicy 's3lo.yaml' ([Text.Encoding]::UTF8.GetBytes("default:`n  lifecycle:`n    keep_last: many`n    max_age: 99999999999d`n"))
    # Sources that are not images: a layout whose index.json is not JSON, one whose manifest is cut short, a file of noise.
    $script:BadIndex = Join-Path $Work 'bad-index'
    Copy-Item -LiteralPath $Layout -Destination $BadIndex -Recurse
    Set-Content -LiteralPath (Join-Path $BadIndex 'index.json') -Value '{"manifests": [{"digest": 12}'
    $script:BadManifest = Join-Path $Work 'bad-manifest'
    Copy-Item -LiteralPath $Layout -Destination $BadManifest -Recurse
    $entry = (Get-Content -Raw (Join-Path $Layout 'index.json') | ConvertFrom-Json).manifests[0].digest.Substring(7)
    Set-Content -LiteralPath (Join-Path $BadManifest "blobs/sha256/$entry") -Value '{"schemaVersion": 2, "config": {}}' -NoNewline
    $script:Noise = Join-Path $Work 'noise.tar'
    [IO.File]::WriteAllBytes($Noise, [byte[]](1..255 + 1..255))
    $script:Missing = Join-Path $Work 'no-such-store'

    # A port on 127.0.0.1 that nothing listens on.
    $listener = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, 0)
    $listener.Start(); $closed = $listener.LocalEndpoint.Port; $listener.Stop()
    $cred = [pscredential]::new('key', (ConvertTo-SecureString 'secret' -AsPlainText -Force))
    $script:S3Closed = @{ EndpointUrl = "http://127.0.0.1:$closed"; Credential = $cred }
    $script:AzClosed = @{ EndpointUrl = "http://127.0.0.1:$closed/devstoreaccount1"; StorageAccountName = 'devstoreaccount1'; StorageAccountKey = 'a2V5' }
    $script:Out = Join-Path $Work 'out'
    $script:Closed = $closed
}

AfterAll {
    Complete-TestSuite $script:Suite
}

Describe 'Errors of every cmdlet' {
    It '<Name>' -ForEach @(
        @{ Name = 'Get-S3loImage, unknown scheme'; Case = { Get-S3loImage 'bogus://x/' } }
        @{ Name = 'Get-S3loImage, S3 on a closed port'; Case = { Get-S3loImage 's3://bucket/' @S3Closed } }
        @{ Name = 'Get-S3loImage, -EndpointUrl not a URL'; Case = { Get-S3loImage 's3://bucket/' -EndpointUrl 'not a url' -Credential $S3Closed.Credential } }
        @{ Name = 'Get-S3loImage, -EndpointUrl of another scheme'; Case = { Get-S3loImage 's3://bucket/' -EndpointUrl "ftp://127.0.0.1:$Closed/" -Credential $S3Closed.Credential } }
        @{ Name = 'Get-S3loImage, Azure on a closed port'; Case = { Get-S3loImage 'az://container/' @AzClosed } }
        @{ Name = 'Get-S3loImage, Azure key not base64'; Case = { Get-S3loImage 'az://container/' -EndpointUrl $AzClosed.EndpointUrl -StorageAccountName devstoreaccount1 -StorageAccountKey 'not base64!' } }
        @{ Name = 'Get-S3loImage, Azure bad connection string'; Case = { Get-S3loImage 'az://container/' -ConnectionString 'this is not one' } }
        @{ Name = 'Get-S3loImage, bad bucket name'; Case = { Get-S3loImage 's3://B_/' @S3Closed } }
        @{ Name = 'Get-S3loManifest, missing tag'; Case = { Get-S3loManifest "${S}app:nosuch" } }
        @{ Name = 'Get-S3loManifest, invalid name'; Case = { Get-S3loManifest "${S}APP:v1" } }
        @{ Name = 'Get-S3loManifest, invalid digest'; Case = { Get-S3loManifest "${S}app@sha256:zz" } }
        @{ Name = 'Get-S3loManifest, manifest not JSON'; Case = { Get-S3loManifest "${S}garbage:v1" } }
        @{ Name = 'Get-S3loManifest, manifest cut short'; Case = { Get-S3loManifest "${S}cut:v1" } }
        @{ Name = 'Get-S3loManifest, manifest of another media type'; Case = { Get-S3loManifest "${S}odd:v1" } }
        @{ Name = 'Get-S3loManifest, manifest with null fields'; Case = { Get-S3loManifest "${S}nulls:v1" } }
        @{ Name = 'Get-S3loImage, listing damaged tags'; Case = { Get-S3loImage $S -Name garbage, cut, odd, nulls } }
        @{ Name = 'Push-S3loImage, missing source'; Case = { Push-S3loImage (Join-Path $Work 'nothing-here') "${S}app:v2" } }
        @{ Name = 'Push-S3loImage, index.json not JSON'; Case = { Push-S3loImage $BadIndex "${S}app:v2" } }
        @{ Name = 'Push-S3loImage, manifest not an image'; Case = { Push-S3loImage $BadManifest "${S}app:v2" } }
        @{ Name = 'Push-S3loImage, a file of noise'; Case = { Push-S3loImage $Noise "${S}app:v2" } }
        @{ Name = 'Push-S3loImage, bad tag'; Case = { Push-S3loImage $Layout "${S}app:-bad" } }
        @{ Name = 'Push-S3loImage, S3 on a closed port'; Case = { Push-S3loImage $Layout 's3://bucket/app:v1' @S3Closed } }
        @{ Name = 'Push-S3loImage, Azure on a closed port'; Case = { Push-S3loImage $Layout 'az://container/app:v1' @AzClosed } }
        @{ Name = 'Push-S3loImage, registry on a closed port'; Case = { Push-S3loImage $Layout "127.0.0.1:$Closed/app:v1" } }
        @{ Name = 'Save-S3loImage, missing tag'; Case = { Save-S3loImage "${S}app:nosuch" -Path $Out } }
        @{ Name = 'Save-S3loImage, blob gone'; Case = { Save-S3loImage "${S}missing:v1" -Path "$Out-missing" } }
        @{ Name = 'Save-S3loImage, blob corrupt'; Case = { Save-S3loImage "$($Corrupt.Uri)app:v1" -Path "$Out-corrupt" } }
        @{ Name = 'Save-S3loImage, manifest not JSON'; Case = { Save-S3loImage "${S}garbage:v1" -Path "$Out-garbage" } }
        @{ Name = 'Save-S3loImage, unwritable path'; Case = { Save-S3loImage "${S}app:v1" -Path '/proc/s3lo/out' } }
        @{ Name = 'Copy-S3loImage, missing source'; Case = { Copy-S3loImage "${S}app:nosuch" "${S}app:copy" } }
        @{ Name = 'Copy-S3loImage, manifest cut short'; Case = { Copy-S3loImage "${S}cut:v1" "${S}app:copy" } }
        @{ Name = 'Copy-S3loImage, to S3 on a closed port'; Case = { Copy-S3loImage "${S}app:v1" 's3://bucket/app:v1' @S3Closed } }
        @{ Name = 'Copy-S3loImage, from a registry on a closed port'; Case = { Copy-S3loImage "127.0.0.1:$Closed/app:v1" "${S}app:copy" } }
        @{ Name = 'Sync-S3loImage, missing store'; Case = { Sync-S3loImage "local://$Missing/" $S -Confirm:$false } }
        @{ Name = 'Sync-S3loImage, to Azure on a closed port'; Case = { Sync-S3loImage $S 'az://container/' -Confirm:$false @AzClosed } }
        @{ Name = 'Remove-S3loImage, missing tag'; Case = { Remove-S3loImage "${S}app:nosuch" -Confirm:$false } }
        @{ Name = 'Remove-S3loImage, S3 on a closed port'; Case = { Remove-S3loImage 's3://bucket/app:v1' -Confirm:$false @S3Closed } }
        @{ Name = 'Remove-S3loStaleBlob, damaged tags'; Case = { Remove-S3loStaleBlob $S -Confirm:$false } }
        @{ Name = 'Remove-S3loStaleBlob, Azure on a closed port'; Case = { Remove-S3loStaleBlob 'az://container/' -Confirm:$false @AzClosed } }
        @{ Name = 'Get-S3loPolicy, YAML cut short'; Case = { Get-S3loPolicy $BadPolicy.Uri } }
        @{ Name = 'Get-S3loPolicy, values of the wrong kind'; Case = { Get-S3loPolicy $WrongPolicy.Uri } }
        @{ Name = 'Set-S3loPolicy, over YAML cut short'; Case = { Set-S3loPolicy $BadPolicy.Uri app -KeepLast 2 -Confirm:$false } }
        @{ Name = 'Set-S3loPolicy, bad image name'; Case = { Set-S3loPolicy $S 'Bad Name' -KeepLast 2 -Confirm:$false } }
        @{ Name = 'Get-S3loLifecyclePlan, YAML cut short'; Case = { Get-S3loLifecyclePlan $BadPolicy.Uri } }
        @{ Name = 'Invoke-S3loLifecycle, values of the wrong kind'; Case = { Invoke-S3loLifecycle $WrongPolicy.Uri -Confirm:$false } }
        @{ Name = 'Get-S3loImageFile, missing path'; Case = { Get-S3loImageFile "${S}app:v1" -Path '/no/such/file' } }
        @{ Name = 'Get-S3loImageFile, manifest not JSON'; Case = { Get-S3loImageFile "${S}garbage:v1" } }
        @{ Name = 'Read-S3loImageFile, missing path'; Case = { Read-S3loImageFile "${S}app:v1" -Path '/no/such/file' } }
        @{ Name = 'Read-S3loImageFile, blob corrupt'; Case = { Read-S3loImageFile "$($Corrupt.Uri)app:v1" -Path '/layer1.bin' -AsByteStream } }
        @{ Name = 'Read-S3loImageFile, path with a NUL'; Case = { Read-S3loImageFile "${S}app:v1" -Path "/a`0b" } }
        @{ Name = 'Start-S3loServer, missing certificate'; Case = { Start-S3loServer $S -Port 0 -CertificatePath (Join-Path $Work 'no-cert.pem') } }
        @{ Name = 'Start-S3loServer, certificate not PEM'; Case = { Start-S3loServer $S -Port 0 -CertificatePath $Noise } }
        @{ Name = 'Start-S3loServer, port taken'; Case = {
                $taken = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, 0)
                $taken.Start()
                try { Start-S3loServer $S -Port $taken.LocalEndpoint.Port } finally { $taken.Stop() }
            }
        }
    ) {
        $errors = @(try { $null = & $Case -ErrorAction Stop } catch { $_ })
        $errors | Should -Not -BeNullOrEmpty -Because 'the case must fail'
        $id = ($errors[0].FullyQualifiedErrorId -split ',')[0]
        $id | Should -BeIn $S3loIds -Because "$($errors[0].FullyQualifiedErrorId): $($errors[0].Exception.GetType().FullName): $($errors[0].Exception.Message)"
    }
}
