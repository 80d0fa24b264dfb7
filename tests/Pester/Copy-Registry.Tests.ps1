# Copy-S3loImage between the Distribution registry and the stores, and from registry to registry, anonymous and behind basic auth.
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'StoreHelpers.psm1') -Force
    $script:Suite = Initialize-TestSuite -Name copyreg -S3 -Azure
    $script:Work = $Suite.Work
    $script:Server = $Suite.Server
    $script:Open = Start-TestRegistry
    $script:Locked = Start-TestRegistry -BasicAuth
    $script:Layout = New-TestImage -Path (Join-Path $Work 'layout') -Layers 2 -LayerSize 60KB -Tag amd
    $null = New-TestImage -Path $Layout -Layers 1 -LayerSize 20KB -Tag arm
    $script:IndexDigest = New-TestIndexLayout -Layout $Layout -Platforms ([ordered]@{ amd = 'linux/amd64'; arm = 'linux/arm64' }) -Tag multi
    $null = Invoke-TestProgram skopeo @('--insecure-policy', 'copy', '--quiet', '--all', '--dest-tls-verify=false', "oci:${Layout}:multi", "docker://$($Open.Host)/team/app:multi")
    $script:RegistryCredential = [pscredential]::new($Locked.User, (ConvertTo-SecureString $Locked.Password -AsPlainText -Force))
}

AfterAll {
    Stop-TestRegistry $script:Open
    Stop-TestRegistry $script:Locked
    Complete-TestSuite $script:Suite
}

Describe 'Copy-S3loImage from a registry' {
    It 'copies every platform of an index into <Kind> store, verbatim' -ForEach @(@{ Kind = 'local' }, @{ Kind = 's3' }, @{ Kind = 'az' }) {
        $store = New-TestStore -Kind $Kind -Root $Work -Server $Server
        $p = $store.Params
        $result = Copy-S3loImage "$($Open.Host)/team/app:multi" "$($store.Uri)app:multi" @p
        $result.Digest | Should -Be $IndexDigest
        $raw = Invoke-TestProgram skopeo @('inspect', '--raw', '--tls-verify=false', "docker://$($Open.Host)/team/app:multi") | Out-String
        (Get-S3loManifest "$($store.Uri)app:multi" @p).Json.Trim() | Should -Be $raw.Trim()
        $null = Save-S3loImage "$($store.Uri)app:multi" -Platform linux/arm64 -Path (Join-Path $Work "reg-arm-$Kind") @p
    }

    It 'copies one platform with -Platform' {
        $store = New-TestStore -Kind local -Root $Work
        $null = Copy-S3loImage "$($Open.Host)/team/app:multi" "$($store.Uri)app:arm" -Platform linux/arm64
        (Get-S3loManifest "$($store.Uri)app:arm").Json | Should -Be (Get-TestLayoutManifest -Layout $Layout -Tag arm)
    }

    It 'reports a missing image as ImageNotFound' {
        $store = New-TestStore -Kind local -Root $Work
        { Copy-S3loImage "$($Open.Host)/team/none:v1" "$($store.Uri)none:v1" -ErrorAction Stop } |
            Should -Throw -ErrorId 'ImageNotFound,S3lo.PowerShell.Commands.CopyS3loImageCommand'
    }
}

Describe 'Copy-S3loImage to a registry behind basic auth' {
    BeforeAll {
        $store = New-TestStore -Kind s3 -Root $Work -Server $Server
        $p = $store.Params
        $null = Push-S3loImage $Layout "$($store.Uri)app:multi" -SourceTag multi @p
    }

    It 'pushes the stored index and every platform, byte for byte' {
        $result = Copy-S3loImage "$($store.Uri)app:multi" "$($Locked.Host)/pushed/app:multi" -RegistryCredential $RegistryCredential @p
        $result.Digest | Should -Be $IndexDigest
        $raw = Invoke-TestProgram skopeo @('inspect', '--raw', '--tls-verify=false', '--creds', "$($Locked.User):$($Locked.Password)", "docker://$($Locked.Host)/pushed/app:multi") | Out-String
        $raw.Trim() | Should -Be (Get-S3loManifest "$($store.Uri)app:multi" @p).Json.Trim()
        $null = Invoke-TestProgram skopeo @('--insecure-policy', 'copy', '--quiet', '--all', '--src-tls-verify=false', '--src-creds', "$($Locked.User):$($Locked.Password)",
            "docker://$($Locked.Host)/pushed/app:multi", "oci:$(Join-Path $Work 'from-registry'):v1")
        (Copy-S3loImage "$($store.Uri)app:multi" "$($Locked.Host)/pushed/app:multi" -RegistryCredential $RegistryCredential @p).BlobsUploaded | Should -Be 0
    }

    It 'requires a tag on the registry side too' {
        { Copy-S3loImage "$($store.Uri)app:multi" "$($Locked.Host)/pushed/app" -RegistryCredential $RegistryCredential @p } |
            Should -Throw -ErrorId 'TagRequired,S3lo.PowerShell.Commands.CopyS3loImageCommand'
    }

    It 'refuses a wrong password with RegistryAccessDenied' {
        $wrong = [pscredential]::new($Locked.User, (ConvertTo-SecureString 'nope' -AsPlainText -Force))
        { Copy-S3loImage "$($store.Uri)app:multi" "$($Locked.Host)/pushed/app:x" -RegistryCredential $wrong @p -ErrorAction Stop } |
            Should -Throw -ErrorId 'RegistryAccessDenied,S3lo.PowerShell.Commands.CopyS3loImageCommand'
    }
}

Describe 'Copy-S3loImage from an Azure store to a registry' {
    It 'pushes the stored index and every platform, and skopeo copies it back with the same digest' {
        $store = New-TestStore -Kind az -Root $Work
        $p = $store.Params
        $null = Push-S3loImage $Layout "$($store.Uri)app:multi" -SourceTag multi @p
        $result = Copy-S3loImage "$($store.Uri)app:multi" "$($Open.Host)/from-az/app:multi" @p
        $result.Digest | Should -Be $IndexDigest
        $layout = Join-Path $Work 'from-az-layout'
        $null = Invoke-TestProgram skopeo @('--insecure-policy', 'copy', '--quiet', '--all', '--src-tls-verify=false', "docker://$($Open.Host)/from-az/app:multi", "oci:${layout}:v1")
        (Get-Content -Raw (Join-Path $layout 'index.json') | ConvertFrom-Json).manifests[0].digest | Should -Be $IndexDigest
    }
}

Describe 'Copy-S3loImage from a registry to a registry' {
    It 'copies an index and every platform to another registry behind basic auth, keeping its digest' {
        $result = Copy-S3loImage "$($Open.Host)/team/app:multi" "$($Locked.Host)/mirror/app:multi" -RegistryCredential $RegistryCredential
        $result.Digest | Should -Be $IndexDigest
        $result.Reference | Should -Be "$($Locked.Host)/mirror/app:multi"
        $source = Invoke-TestProgram skopeo @('inspect', '--raw', '--tls-verify=false', "docker://$($Open.Host)/team/app:multi") | Out-String
        # The attestation entry names the first platform's manifest again.
        $children = @(($source | ConvertFrom-Json).manifests | Sort-Object -Property digest -Unique)
        $blobs = @($children | ForEach-Object { Get-TestBlobDigest -Json ([IO.File]::ReadAllText((Join-Path $Layout "blobs/sha256/$($_.digest.Substring(7))"))) } | Sort-Object -Unique)
        $result.BlobsUploaded | Should -Be ($children.Count + $blobs.Count) -Because 'each child manifest, config and layer goes once'
        $copied = Invoke-TestProgram skopeo @('inspect', '--raw', '--tls-verify=false', '--creds', "$($Locked.User):$($Locked.Password)", "docker://$($Locked.Host)/mirror/app:multi") | Out-String
        $copied.Trim() | Should -Be $source.Trim()
        $layout = Join-Path $Work 'mirror-layout'
        $null = Invoke-TestProgram skopeo @('--insecure-policy', 'copy', '--quiet', '--all', '--src-tls-verify=false', '--src-creds', "$($Locked.User):$($Locked.Password)",
            "docker://$($Locked.Host)/mirror/app:multi", "oci:${layout}:v1")
        (Get-Content -Raw (Join-Path $layout 'index.json') | ConvertFrom-Json).manifests[0].digest | Should -Be $IndexDigest

        $again = Copy-S3loImage "$($Open.Host)/team/app:multi" "$($Locked.Host)/mirror/app:multi" -RegistryCredential $RegistryCredential
        $again.BlobsUploaded | Should -Be 0
        $again.BlobsSkipped | Should -Be $result.BlobsUploaded
    }

    It 'copies one platform with -Platform to another repository of the same registry' {
        $result = Copy-S3loImage "$($Open.Host)/team/app:multi" "$($Open.Host)/team/app-arm:v1" -Platform linux/arm64
        $result.Platform | Should -Be 'linux/arm64'
        $raw = Invoke-TestProgram skopeo @('inspect', '--raw', '--tls-verify=false', "docker://$($Open.Host)/team/app-arm:v1") | Out-String
        $raw.Trim() | Should -Be (Get-TestLayoutManifest -Layout $Layout -Tag arm).Trim()
    }

    It 'reports a missing source image as ImageNotFound' {
        { Copy-S3loImage "$($Open.Host)/team/none:v1" "$($Open.Host)/team/copy:v1" -ErrorAction Stop } |
            Should -Throw -ErrorId 'ImageNotFound,S3lo.PowerShell.Commands.CopyS3loImageCommand'
    }
}
