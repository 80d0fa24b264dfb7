# Copy-S3loImage between stores, and multi-platform pushes with -Platform.
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'StoreHelpers.psm1') -Force
    $script:Suite = Initialize-TestSuite -Name copy -S3 -Azure
    $script:Work = $Suite.Work
    $script:Server = $Suite.Server
    $script:Layout = New-TestImage -Path (Join-Path $Work 'layout') -Layers 2 -LayerSize 100KB -Tag amd
    $null = New-TestImage -Path $Layout -Layers 1 -LayerSize 30KB -Tag arm
    $script:IndexDigest = New-TestIndexLayout -Layout $Layout -Platforms ([ordered]@{ amd = 'linux/amd64'; arm = 'linux/arm64' }) -Tag multi
    $script:ArmManifest = Get-TestLayoutManifest -Layout $Layout -Tag arm
}

AfterAll {
    Complete-TestSuite $script:Suite
}

Describe 'Copy-S3loImage' {
    BeforeEach {
        $local = New-TestStore -Kind local -Root $Work
        $s3 = New-TestStore -Kind s3 -Root $Work -Server $Server
        $other = New-TestStore -Kind s3 -Root $Work -Server $Server
        $p = $s3.Params
        $pushed = Push-S3loImage $Layout "$($local.Uri)app:multi" -SourceTag multi
    }

    It 'copies a multi-platform image from a local store to S3, index and every platform, verbatim' {
        $result = Copy-S3loImage "$($local.Uri)app:multi" "$($s3.Uri)app:multi" @p
        $result.Digest | Should -Be $IndexDigest
        $result.BlobsUploaded | Should -Be $pushed.BlobsUploaded
        (Get-S3loManifest "$($s3.Uri)app:multi" @p).Json | Should -Be (Get-S3loManifest "$($local.Uri)app:multi").Json
        $null = Save-S3loImage "$($s3.Uri)app:multi" -Platform linux/arm64 -Path (Join-Path $Work "arm-$([guid]::NewGuid().ToString('N'))") @p
    }

    It 'moves no blob within one store and only the missing ones between stores' {
        $null = Copy-S3loImage "$($local.Uri)app:multi" "$($s3.Uri)app:multi" @p
        $retag = Copy-S3loImage "$($s3.Uri)app:multi" "$($s3.Uri)release/app:1.0" @p
        $retag.BytesUploaded | Should -Be 0
        $retag.BlobsUploaded | Should -Be 0
        $again = Copy-S3loImage "$($s3.Uri)app:multi" "$($other.Uri)app:multi" @p
        $again.BlobsUploaded | Should -Be $pushed.BlobsUploaded
        (Copy-S3loImage "$($s3.Uri)app:multi" "$($other.Uri)app:multi" @p).BytesUploaded | Should -Be 0
    }

    It 'copies one platform with -Platform, as a single-platform image' {
        $result = Copy-S3loImage "$($local.Uri)app:multi" "$($s3.Uri)app:arm" -Platform linux/arm64 @p
        (Get-S3loManifest "$($s3.Uri)app:arm" @p).Json | Should -Be $ArmManifest
        $result.MediaType | Should -Be 'application/vnd.oci.image.manifest.v1+json'
    }

    It 'takes images from Get-S3loImage, each with its own store connection' {
        $null = Copy-S3loImage "$($local.Uri)app:multi" "$($s3.Uri)app:multi" @p
        Get-S3loImage $s3.Uri -Name app @p | Copy-S3loImage -Destination "$($local.Uri)copied:v1"
        (Get-S3loImage "$($local.Uri)copied:v1").Digest | Should -Be $IndexDigest
    }

    It 'carries signature records along only when the manifest is copied unchanged, and says when it drops them' {
        Set-TestStoreObject $local 'manifests/app/multi/signatures/0123456789abcdef.json' ([Text.Encoding]::UTF8.GetBytes('{"schemaVersion":2}'))
        $null = Copy-S3loImage "$($local.Uri)app:multi" "$($s3.Uri)app:multi" @p
        Get-TestStoreKey $s3 -Prefix 'manifests/app/multi/signatures/' | Should -Be @('manifests/app/multi/signatures/0123456789abcdef.json')
        $null = Copy-S3loImage "$($local.Uri)app:multi" "$($s3.Uri)app:arm" -Platform linux/arm64 -WarningVariable warnings @p 3>$null
        $warnings | Should -Match 'signature'
        Get-TestStoreKey $s3 -Prefix 'manifests/app/arm/signatures/' | Should -BeNullOrEmpty
    }

    It 'honours the immutability of the destination' {
        Set-S3loPolicy $s3.Uri -Name app -Immutable -Confirm:$false @p
        $null = Copy-S3loImage "$($local.Uri)app:multi" "$($s3.Uri)app:v1" -Platform linux/amd64 @p
        { Copy-S3loImage "$($local.Uri)app:multi" "$($s3.Uri)app:v1" -Platform linux/arm64 @p -ErrorAction Stop } |
            Should -Throw -ErrorId 'TagImmutable,S3lo.PowerShell.Commands.CopyS3loImageCommand'
    }

    It 'reports a missing source as ImageNotFound' {
        { Copy-S3loImage "$($local.Uri)app:none" "$($s3.Uri)app:none" @p -ErrorAction Stop } |
            Should -Throw -ErrorId 'ImageNotFound,S3lo.PowerShell.Commands.CopyS3loImageCommand'
    }
}

Describe 'Copy-S3loImage from a <From> store to a <To> store' -ForEach @(
    @{ From = 'local'; To = 's3' }, @{ From = 's3'; To = 'az' }, @{ From = 'az'; To = 'local' },
    @{ From = 'local'; To = 'az' }, @{ From = 'az'; To = 's3' }, @{ From = 's3'; To = 'local' }) {
    It 'copies a multi-platform image that keeps its digest, and skopeo reads the result' {
        $source = New-TestStore -Kind $From -Root $Work -Server $Server
        $target = New-TestStore -Kind $To -Root $Work -Server $Server
        $sp = $source.Params
        $tp = $target.Params
        $null = Push-S3loImage $Layout "$($source.Uri)app:multi" -SourceTag multi @sp
        # Each side takes its own connection: the source image is piped with its store, the destination gets its parameters.
        $result = Get-S3loImage "$($source.Uri)app:multi" @sp | Copy-S3loImage -Destination "$($target.Uri)team/app:multi" @tp
        $result.Digest | Should -Be $IndexDigest
        $result.BlobsUploaded | Should -BeGreaterThan 0
        (Get-S3loManifest "$($target.Uri)team/app:multi" @tp).Json | Should -Be (Get-S3loManifest "$($source.Uri)app:multi" @sp).Json
        $out = Join-Path $Work "saved-$From-$To-$([guid]::NewGuid().ToString('N').Substring(0, 6))"
        $null = Save-S3loImage "$($target.Uri)team/app:multi" -Platform linux/arm64 -Path $out -Format OciLayout @tp
        $raw = Invoke-TestProgram skopeo @('inspect', '--raw', "oci:$out") | Out-String
        $raw.Trim() | Should -Be $ArmManifest.Trim()
        (Get-S3loImage "$($target.Uri)team/app:multi" @tp | Copy-S3loImage -Destination "$($target.Uri)team/app:again" @tp).BlobsUploaded | Should -Be 0
    }
}

Describe 'Push-S3loImage -Platform' {
    It 'pushes one platform of a multi-platform layout as a single-platform image' {
        $store = New-TestStore -Kind local -Root $Work
        $result = Push-S3loImage $Layout "$($store.Uri)app:arm" -SourceTag multi -Platform linux/arm64
        $result.MediaType | Should -Be 'application/vnd.oci.image.manifest.v1+json'
        (Get-S3loManifest "$($store.Uri)app:arm").Json | Should -Be $ArmManifest
        { Push-S3loImage $Layout "$($store.Uri)app:s390x" -SourceTag multi -Platform linux/s390x -ErrorAction Stop } |
            Should -Throw -ErrorId 'PlatformNotFound,S3lo.PowerShell.Commands.PushS3loImageCommand'
    }
}
