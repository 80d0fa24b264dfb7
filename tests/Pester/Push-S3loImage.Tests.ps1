# Push-S3loImage against a local store and a real S3 server (Ceph RGW), from real images made with umoci and skopeo.
BeforeDiscovery {
    $script:StoreKinds = @(@{ Kind = 'local' }, @{ Kind = 's3' }, @{ Kind = 'az' })
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'StoreHelpers.psm1') -Force
    $script:Suite = Initialize-TestSuite -Name push -S3 -Azure
    $script:Work = $Suite.Work
    $script:Server = $Suite.Server
    $script:Layout = New-TestImage -Path (Join-Path $Work 'layout') -Layers 3 -LayerSize 300KB -Tag v1
    $null = New-TestImage -Path $Layout -Layers 1 -LayerSize 10KB -Tag v2
    $script:DockerArchive = ConvertTo-TestArchive -Layout $Layout -Tag v1 -Format docker-archive -Path (Join-Path $Work 'app.tar') -ImageName 'app:v1'
    $script:OciArchive = ConvertTo-TestArchive -Layout $Layout -Tag v1 -Format oci-archive -Path (Join-Path $Work 'app-oci.tar')
    $script:V1Manifest = Get-TestLayoutManifest -Layout $Layout -Tag v1
}

AfterAll {
    Complete-TestSuite $script:Suite
}

Describe 'Push-S3loImage to a <Kind> store' -ForEach $StoreKinds {
    BeforeEach {
        $store = New-TestStore -Kind $Kind -Root $Work -Server $Server
        $p = $store.Params
    }

    It 'pushes a docker save archive: blobs, then oci-layout and manifest.json, and reports what it did' {
        $result = Push-S3loImage $DockerArchive "$($store.Uri)app:v1" @p
        $result.Reference | Should -Be "$($store.Uri)app:v1"
        $result.MediaType | Should -Be 'application/vnd.oci.image.manifest.v1+json'
        $result.BlobsUploaded | Should -Be 4
        $result.BlobsSkipped | Should -Be 0
        $result.BytesUploaded | Should -Be $result.BytesTotal
        $result.BytesTotal | Should -BeGreaterThan (900KB)
        $result.Duration | Should -BeOfType [timespan]

        $keys = Get-TestStoreKey $store
        $keys | Should -Contain 'manifests/app/v1/manifest.json'
        $keys | Should -Contain 'manifests/app/v1/oci-layout'
        $manifest = [Text.Encoding]::UTF8.GetString((Get-TestStoreObject $store 'manifests/app/v1/manifest.json'))
        $result.Digest | Should -Be (Get-TestSha256 (Get-TestStoreObject $store 'manifests/app/v1/manifest.json'))
        foreach ($digest in Get-TestBlobDigest $manifest) {
            $keys | Should -Contain "blobs/sha256/$($digest.Substring(7))"
            $bytes = Get-TestStoreObject $store "blobs/sha256/$($digest.Substring(7))"
            Get-TestSha256 $bytes -Hex | Should -Be $digest.Substring(7)
        }
        [Text.Encoding]::UTF8.GetString((Get-TestStoreObject $store 'manifests/app/v1/oci-layout')) | Should -Be '{"imageLayoutVersion":"1.0.0"}'
    }

    It 'uploads no blob when the same image is pushed again' {
        $first = Push-S3loImage $DockerArchive "$($store.Uri)app:v1" @p
        $again = Push-S3loImage $DockerArchive "$($store.Uri)app:v1" @p
        $again.BlobsUploaded | Should -Be 0
        $again.BytesUploaded | Should -Be 0
        $again.BlobsSkipped | Should -Be $first.BlobsUploaded
        $again.Digest | Should -Be $first.Digest
        $other = Push-S3loImage $DockerArchive "$($store.Uri)other/app:v1" @p
        $other.BlobsUploaded | Should -Be 0 -Because 'blobs are shared across the whole store by digest'
    }

    It 'pushes an OCI layout directory, keeping its manifest bytes, and picks the image by -SourceTag' {
        $result = Push-S3loImage -Path $Layout -Destination "$($store.Uri)app:v1" -SourceTag v1 @p
        [Text.Encoding]::UTF8.GetString((Get-TestStoreObject $store 'manifests/app/v1/manifest.json')) | Should -Be $V1Manifest
        $v2 = Push-S3loImage $Layout "$($store.Uri)app:v2" -SourceTag v2 @p
        $v2.Digest | Should -Not -Be $result.Digest
        Get-TestStoreKey $store -Prefix 'manifests/' | Should -Contain 'manifests/app/v2/manifest.json'
    }

    It 'refuses a layout holding several images when -SourceTag is not given, naming them' {
        { Push-S3loImage $Layout "$($store.Uri)app:v1" @p -ErrorAction Stop } |
            Should -Throw -ErrorId 'AmbiguousSourceImage,S3lo.PowerShell.Commands.PushS3loImageCommand' -ExpectedMessage '*v1*v2*'
        Get-TestStoreKey $store -Prefix 'manifests/' | Should -BeNullOrEmpty
    }

    It 'refuses a -SourceTag the layout does not hold' {
        { Push-S3loImage $Layout "$($store.Uri)app:v1" -SourceTag v9 @p -ErrorAction Stop } |
            Should -Throw -ErrorId 'SourceImageNotFound,S3lo.PowerShell.Commands.PushS3loImageCommand'
    }

    It 'pushes an oci-archive' {
        $result = Push-S3loImage $OciArchive "$($store.Uri)app:oci" @p
        [Text.Encoding]::UTF8.GetString((Get-TestStoreObject $store 'manifests/app/oci/manifest.json')) | Should -Be $V1Manifest
        $result.BlobsUploaded | Should -Be 4
    }

    It 'takes the store, name and tag as separate parameters' {
        $storeArg = if ($Kind -eq 'local') { $store.Root } else { $store.Uri }
        $result = Push-S3loImage $DockerArchive -Store $storeArg -Name team/app -Tag 1.0 @p
        $result.Reference | Should -Be "$($store.Uri)team/app:1.0"
        Get-TestStoreKey $store | Should -Contain 'manifests/team/app/1.0/manifest.json'
    }

    It 'requires a tag: no silent latest' {
        { Push-S3loImage $DockerArchive "$($store.Uri)app" @p } | Should -Throw -ErrorId 'TagRequired,S3lo.PowerShell.Commands.PushS3loImageCommand'
        Get-TestStoreKey $store | Should -BeNullOrEmpty
    }

    It 'refuses the malformed reference <Reference> with <ErrorId>' -ForEach @(
        @{ Reference = 'App:v1'; ErrorId = 'InvalidName' }
        @{ Reference = 'app..x:v1'; ErrorId = 'InvalidName' }
        @{ Reference = 'team/App:v1'; ErrorId = 'InvalidName' }
        @{ Reference = 'app:-bad'; ErrorId = 'InvalidTag' }
        @{ Reference = 'app:v1@sha256:1234'; ErrorId = 'InvalidDigest' }
    ) {
        { Push-S3loImage $DockerArchive "$($store.Uri)$Reference" @p } | Should -Throw -ErrorId "$ErrorId,S3lo.PowerShell.Commands.PushS3loImageCommand"
        Get-TestStoreKey $store | Should -BeNullOrEmpty
    }

    It 'refuses a name that climbs out of the bucket' -Skip:($Kind -ne 's3') {
        { Push-S3loImage $DockerArchive "$($store.Uri)../escape:v1" @p } | Should -Throw -ErrorId 'InvalidName,S3lo.PowerShell.Commands.PushS3loImageCommand'
        Get-TestStoreKey $store | Should -BeNullOrEmpty
    }

    It 'refuses an archive with a <Entry> entry and writes nothing' -ForEach @(@{ Entry = '../escape.json' }, @{ Entry = '/etc/escape.json' }) {
        $tar = New-TestTar -Path (Join-Path $Work "bad-$([guid]::NewGuid().ToString('N')).tar") -Entries ([ordered]@{ 'manifest.json' = '[]'; $Entry = '{}' })
        $around = @(Get-ChildItem -LiteralPath $Work -Recurse -Force | ForEach-Object FullName | Sort-Object)
        { Push-S3loImage $tar "$($store.Uri)app:v1" @p -ErrorAction Stop } | Should -Throw -ErrorId 'UnsafeArchivePath,S3lo.PowerShell.Commands.PushS3loImageCommand'
        Get-TestStoreKey $store | Should -BeNullOrEmpty
        # Nothing appeared anywhere the entry could point: beside the archive, above it, or at the absolute path it names.
        @(Get-ChildItem -LiteralPath $Work -Recurse -Force | ForEach-Object FullName | Sort-Object) | Should -Be $around
        Test-Path -LiteralPath (Join-Path (Split-Path -Parent $Work) 'escape.json') | Should -BeFalse
        Test-Path -LiteralPath '/etc/escape.json' | Should -BeFalse
    }

    It 'refuses a truncated archive and leaves no tag' {
        $bytes = [IO.File]::ReadAllBytes($DockerArchive)
        $truncated = Join-Path $Work "truncated-$Kind.tar"
        [IO.File]::WriteAllBytes($truncated, $bytes[0..([int]($bytes.Length * 0.6))])
        { Push-S3loImage $truncated "$($store.Uri)app:v1" @p -ErrorAction Stop } | Should -Throw -ErrorId 'InvalidArchive,S3lo.PowerShell.Commands.PushS3loImageCommand'
        Get-TestStoreKey $store -Prefix 'manifests/' | Should -BeNullOrEmpty
    }

    It 'reports a missing source as SourceNotFound' {
        { Push-S3loImage (Join-Path $Work 'nothing.tar') "$($store.Uri)app:v1" @p -ErrorAction Stop } |
            Should -Throw -ErrorId 'SourceNotFound,S3lo.PowerShell.Commands.PushS3loImageCommand'
    }

    It 'pushes nothing with -WhatIf' {
        Push-S3loImage $DockerArchive "$($store.Uri)app:v1" -WhatIf @p | Should -BeNullOrEmpty
        Get-TestStoreKey $store | Should -BeNullOrEmpty
    }
}

Describe 'Push-S3loImage storage classes on S3' {
    It 'stores blobs as INTELLIGENT_TIERING and manifests as STANDARD when asked, on a custom endpoint' {
        $store = New-TestStore -Kind s3 -Root $Work -Server $Server
        $p = $store.Params
        $null = Push-S3loImage $DockerArchive "$($store.Uri)app:v1" -BlobStorageClass INTELLIGENT_TIERING -ManifestStorageClass STANDARD @p
        $keys = Get-TestStoreKey $store
        foreach ($key in $keys | Where-Object { $_ -like 'blobs/*' }) {
            (Get-TestS3ObjectHeader -Server $Server -Bucket $store.Root -Key $key)['x-amz-storage-class'] | Should -Be 'INTELLIGENT_TIERING'
        }
        foreach ($key in 'manifests/app/v1/manifest.json', 'manifests/app/v1/oci-layout') {
            (Get-TestS3ObjectHeader -Server $Server -Bucket $store.Root -Key $key)['x-amz-storage-class'] | Should -BeIn @($null, 'STANDARD')
        }
    }

    It 'sets no storage class on a custom endpoint unless asked for' {
        $store = New-TestStore -Kind s3 -Root $Work -Server $Server
        $p = $store.Params
        $null = Push-S3loImage $DockerArchive "$($store.Uri)app:v1" @p
        foreach ($key in Get-TestStoreKey $store) {
            (Get-TestS3ObjectHeader -Server $Server -Bucket $store.Root -Key $key)['x-amz-storage-class'] | Should -BeIn @($null, 'STANDARD')
        }
    }

    It 'reports wrong credentials as StoreAccessDenied and a missing bucket as StoreNotFound' {
        $store = New-TestStore -Kind s3 -Root $Work -Server $Server
        $bad = [pscredential]::new($Server.AccessKey, (ConvertTo-SecureString 'wrong-secret' -AsPlainText -Force))
        { Push-S3loImage $DockerArchive "$($store.Uri)app:v1" -EndpointUrl $Server.EndpointUrl -Credential $bad -ErrorAction Stop } |
            Should -Throw -ErrorId 'StoreAccessDenied,S3lo.PowerShell.Commands.PushS3loImageCommand'
        $p = $store.Params
        { Push-S3loImage $DockerArchive 's3://no-such-bucket/app:v1' @p -ErrorAction Stop } |
            Should -Throw -ErrorId 'StoreNotFound,S3lo.PowerShell.Commands.PushS3loImageCommand'
    }
}

Describe 'Push-S3loImage to a local reference whose store does not exist yet' {
    BeforeEach {
        $dir = Join-Path $Work "fresh-$([guid]::NewGuid().ToString('N').Substring(0, 8))"
        $null = New-Item -ItemType Directory -Path $dir
        Push-Location $dir
    }
    AfterEach { Pop-Location }

    It 'takes the first path component as the store, as the Go s3lo does' {
        $result = Push-S3loImage $DockerArchive local://./store/mirror/demo:v1
        $result.Reference | Should -Be "local://$dir/store/mirror/demo:v1"
        Test-Path -LiteralPath (Join-Path $dir 'store/manifests/mirror/demo/v1/manifest.json') | Should -BeTrue
        Test-Path -LiteralPath (Join-Path $dir 'store/mirror') | Should -BeFalse
        (Get-S3loImage local://./store/).Name | Should -Be 'mirror/demo'
    }

    It 'writes into an existing store deeper on the path' {
        $null = Push-S3loImage $DockerArchive local://./store/mirror/demo:v1
        $null = New-Item -ItemType Directory -Force -Path (Join-Path $dir 'store2/team/blobs/sha256')
        $result = Push-S3loImage $DockerArchive local://./store2/team/app:v1
        $result.Reference | Should -Be "local://$dir/store2/team/app:v1"
        Test-Path -LiteralPath (Join-Path $dir 'store2/team/manifests/app/v1/manifest.json') | Should -BeTrue
    }

    It 'refuses the path <Text> with an empty, . or .. segment and writes nothing' -ForEach @(
        @{ Text = 'local://./a//b:v1' }, @{ Text = 'local://./store/./app:v1' }, @{ Text = 'local://./store/../app:v1' }) {
        { Push-S3loImage $DockerArchive $Text -ErrorAction Stop } | Should -Throw -ErrorId 'InvalidReference,S3lo.PowerShell.Commands.PushS3loImageCommand'
        @(Get-ChildItem -LiteralPath $dir -Recurse -Force).Count | Should -Be 0
    }
}

Describe 'Push-S3loImage durability on a local store' {
    It 'flushes every file to disk before it gets its name, and syncs the directory after' {
        $store = New-TestStore -Kind local -Root $Work
        $trace = Join-Path $Work "strace-$([guid]::NewGuid().ToString('N').Substring(0, 8)).log"
        $pwshPath = (Get-Process -Id $PID).Path
        $pwshArgs = @('-NoLogo', '-NoProfile', '-NonInteractive', '-Command', "Import-Module '$env:S3LO_MODULE_PATH'; `$null = Push-S3loImage '$DockerArchive' '$($store.Uri)app:v1'")
        if ([IO.Path]::GetFileNameWithoutExtension($pwshPath) -eq 'dotnet') { $pwshArgs = @((Join-Path $PSHOME 'pwsh.dll')) + $pwshArgs }
        $null = Invoke-TestProgram strace (@('-f', '-y', '-qq', '-e', 'trace=fsync,fdatasync,rename,renameat,renameat2,link,linkat', '-o', $trace, $pwshPath) + $pwshArgs)

        $synced = [Collections.Generic.HashSet[string]]::new()
        $published = [Collections.Generic.List[string]]::new()
        $dirSyncedAfter = @{}
        foreach ($line in Get-Content -LiteralPath $trace) {
            if ($line -match 'f(?:data)?sync\(\d+<([^>]+)>') {
                $null = $synced.Add($Matches[1])
                foreach ($name in @($dirSyncedAfter.Keys)) { if ($Matches[1] -eq (Split-Path -Parent $name)) { $dirSyncedAfter[$name] = $true } }
            }
            elseif ($line -match '(?:rename|link)(?:at2?)?\(.*?"([^"]*\.s3lo-tmp-[0-9a-f]{32})".*?"([^"]+)"' -and $Matches[2].StartsWith($store.Root)) {
                $Matches[1] | Should -BeIn $synced -Because "$($Matches[2]) must be on disk before it is named"
                $published.Add($Matches[2])
                $dirSyncedAfter[$Matches[2]] = $false
            }
        }
        $manifest = Join-Path $store.Root 'manifests/app/v1/manifest.json'
        $published | Should -Contain $manifest
        @($published | Where-Object { $_ -like (Join-Path $store.Root 'blobs/sha256/*') }).Count | Should -Be 4
        $published.IndexOf($manifest) | Should -Be ($published.Count - 1) -Because 'the tag is named last'
        foreach ($name in $published) { $dirSyncedAfter[$name] | Should -BeTrue -Because "the directory of $name is synced after it is named" }
    }
}
