# Get-S3loImageFile and Read-S3loImageFile: the merged filesystem of an image, listed and read, on every store kind.
BeforeDiscovery {
    $script:StoreKinds = @(@{ Kind = 'local' }, @{ Kind = 's3' }, @{ Kind = 'az' })
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'StoreHelpers.psm1') -Force
    $script:Suite = Initialize-TestSuite -Name imagefile -S3 -Azure
    $script:Work = $Suite.Work
    $script:Server = $Suite.Server
    $script:Binary = [byte[]](0..255 + 0..255)

    function New-LayerTar {
        # A tar of entries given as @{ Name; Type = File|Directory|Symlink; Content (string or bytes); Target }.
        param([object[]] $Entries)
        $buffer = [IO.MemoryStream]::new()
        $writer = [System.Formats.Tar.TarWriter]::new($buffer, [System.Formats.Tar.TarEntryFormat]::Pax, $true)
        foreach ($e in $Entries) {
            $type = [System.Formats.Tar.TarEntryType]$(switch ($e.Type) { 'Directory' { 'Directory' } 'Symlink' { 'SymbolicLink' } default { 'RegularFile' } })
            $entry = [System.Formats.Tar.PaxTarEntry]::new($type, $e.Name)
            if ($e.Type -eq 'Symlink') { $entry.LinkName = $e.Target }
            if ($e.Type -eq 'File' -or -not $e.Type) {
                $bytes = if ($e.Content -is [byte[]]) { $e.Content } else { [Text.Encoding]::UTF8.GetBytes([string]$e.Content) }
                $entry.DataStream = [IO.MemoryStream]::new([byte[]]@($bytes))
            }
            $writer.WriteEntry($entry)
        }
        $writer.Dispose()
        $buffer.ToArray()
    }

    function Set-FileTestImage {
        # app:v1 in -Store: a gzip layer, then a plain tar layer that replaces one file, removes another by a whiteout and adds a link.
        param($Store)
        $lower = New-LayerTar @(
            @{ Name = 'etc/'; Type = 'Directory' }
            @{ Name = 'etc/os-release'; Content = "ID=lower`n" }
            @{ Name = 'etc/hostname'; Content = "box`n" }
            @{ Name = 'etc/gone'; Content = 'gone' }
            @{ Name = 'bin/busybox'; Content = 'BUSYBOX' })
        $gzipBuffer = [IO.MemoryStream]::new()
        $gzip = [IO.Compression.GZipStream]::new($gzipBuffer, [IO.Compression.CompressionLevel]::Fastest, $true)
        $gzip.Write($lower, 0, $lower.Length); $gzip.Dispose()
        $lowerBlob = $gzipBuffer.ToArray()
        $upper = New-LayerTar @(
            @{ Name = 'etc/os-release'; Content = "ID=test`r`nVERSION=1`nPRETTY=""Test""`n" }
            @{ Name = 'etc/.wh.gone'; Content = '' }
            @{ Name = 'bin/sh'; Type = 'Symlink'; Target = 'busybox' }
            @{ Name = 'data/blob.bin'; Content = $Binary })
        $config = [Text.Encoding]::UTF8.GetBytes('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}')
        $layers = @(
            [ordered]@{ mediaType = 'application/vnd.oci.image.layer.v1.tar+gzip'; digest = (Get-TestSha256 $lowerBlob); size = $lowerBlob.Length }
            [ordered]@{ mediaType = 'application/vnd.oci.image.layer.v1.tar'; digest = (Get-TestSha256 $upper); size = $upper.Length })
        Set-TestStoreObject $Store "blobs/sha256/$(Get-TestSha256 $lowerBlob -Hex)" $lowerBlob
        Set-TestStoreObject $Store "blobs/sha256/$(Get-TestSha256 $upper -Hex)" $upper
        Set-TestStoreObject $Store "blobs/sha256/$(Get-TestSha256 $config -Hex)" $config
        $manifest = [ordered]@{ schemaVersion = 2; mediaType = 'application/vnd.oci.image.manifest.v1+json'
            config = [ordered]@{ mediaType = 'application/vnd.oci.image.config.v1+json'; digest = (Get-TestSha256 $config); size = $config.Length }
            layers = $layers }
        Set-TestStoreObject $Store 'manifests/app/v1/manifest.json' ([Text.Encoding]::UTF8.GetBytes(($manifest | ConvertTo-Json -Depth 5 -Compress)))
        [pscustomobject]@{ Lower = $layers[0].digest; Upper = $layers[1].digest }
    }
}

AfterAll {
    Complete-TestSuite $script:Suite
}

Describe 'Image files on a <Kind> store' -ForEach $StoreKinds {
    BeforeAll {
        $store = New-TestStore -Kind $Kind -Root $Work -Server $Server
        $p = $store.Params
        $image = Set-FileTestImage $store
        $ref = "$($store.Uri)app:v1"
    }

    It 'lists the merged filesystem with wildcards' {
        $etc = @(Get-S3loImageFile $ref -Path '/etc/*' @p)
        $etc.Path | Should -Be @('/etc/hostname', '/etc/os-release')
        $release = $etc | Where-Object Path -eq '/etc/os-release'
        $release.Type | Should -Be 'File'
        $release.Layer | Should -Be $image.Upper
        ($etc | Where-Object Path -eq '/etc/hostname').Layer | Should -Be $image.Lower
        $all = @(Get-S3loImageFile $ref @p)
        $all.Path | Should -Be @('/bin', '/bin/busybox', '/bin/sh', '/data', '/data/blob.bin', '/etc', '/etc/hostname', '/etc/os-release')
        $sh = $all | Where-Object Path -eq '/bin/sh'
        $sh.Type | Should -Be 'Symlink'
        $sh.LinkTarget | Should -Be 'busybox'
        (Get-S3loImageFile $ref -Path 'data/blob.bin' @p).Size | Should -Be $Binary.Length
        @(Get-S3loImageFile $ref -Path '/bin/s*', '/etc/host*' @p).Path | Should -Be @('/bin/sh', '/etc/hostname')
        Get-S3loImageFile $ref -Path '/etc/*' @p | Out-String | Should -Match 'File\s+\d+ B\s+\d*\s*/etc/hostname'
        Get-S3loImageFile $ref -Path '/bin/sh' @p | Format-List | Out-String | Should -Match 'LinkTarget\s+: busybox'
    }

    It 'reads a file as lines, as one string and as bytes, following links' {
        $lines = @(Read-S3loImageFile $ref -Path /etc/os-release @p)
        $lines | Should -Be @('ID=test', 'VERSION=1', 'PRETTY="Test"')
        Read-S3loImageFile $ref -Path /etc/os-release -Raw @p | Should -BeExactly "ID=test`r`nVERSION=1`nPRETTY=""Test""`n"
        Read-S3loImageFile $ref -Path /bin/sh @p | Should -BeExactly 'BUSYBOX'
        $bytes = Read-S3loImageFile $ref -Path /data/blob.bin -AsByteStream @p
        $bytes.GetType() | Should -Be ([byte[]])
        $bytes.Length | Should -Be $Binary.Length
        [Convert]::ToHexString($bytes) | Should -Be ([Convert]::ToHexString($Binary))
        @(Read-S3loImageFile $ref -Path /data/blob.bin -AsByteStream @p).Count | Should -Be 1
    }

    It 'writes a file with -OutFile and replaces it only with -Force' {
        $out = Join-Path $Work "$Kind-blob.bin"
        Read-S3loImageFile $ref -Path /data/blob.bin -OutFile $out @p | Should -BeNullOrEmpty
        [Convert]::ToHexString([IO.File]::ReadAllBytes($out)) | Should -Be ([Convert]::ToHexString($Binary))
        { Read-S3loImageFile $ref -Path /etc/os-release -OutFile $out @p -ErrorAction Stop } |
            Should -Throw -ErrorId 'OutputExists,S3lo.PowerShell.Commands.ReadS3loImageFileCommand'
        Read-S3loImageFile $ref -Path /etc/hostname -OutFile $out -Force @p
        Get-Content -Raw $out | Should -BeExactly "box`n"
    }

    It 'reports a missing file, a file removed by a whiteout and a directory' {
        { Read-S3loImageFile $ref -Path /etc/nothing @p -ErrorAction Stop } |
            Should -Throw -ErrorId 'FileNotFound,S3lo.PowerShell.Commands.ReadS3loImageFileCommand'
        { Read-S3loImageFile $ref -Path /etc/gone @p -ErrorAction Stop } |
            Should -Throw -ErrorId 'FileNotFound,S3lo.PowerShell.Commands.ReadS3loImageFileCommand'
        { Get-S3loImageFile $ref -Path /etc/gone @p -ErrorAction Stop } |
            Should -Throw -ErrorId 'FileNotFound,S3lo.PowerShell.Commands.GetS3loImageFileCommand'
        { Read-S3loImageFile $ref -Path /etc @p -ErrorAction Stop } |
            Should -Throw -ErrorId 'IsADirectory,S3lo.PowerShell.Commands.ReadS3loImageFileCommand'
    }

    It 'refuses a path that climbs out of the root' {
        { Read-S3loImageFile $ref -Path '/etc/../../etc/os-release' @p } |
            Should -Throw -ErrorId 'InvalidArgument,S3lo.PowerShell.Commands.ReadS3loImageFileCommand'
        { Get-S3loImageFile $ref -Path '../etc' @p } |
            Should -Throw -ErrorId 'InvalidArgument,S3lo.PowerShell.Commands.GetS3loImageFileCommand'
        Read-S3loImageFile $ref -Path '/bin/../etc/hostname' @p | Should -BeExactly 'box'
    }

    It 'leaves no -OutFile behind when the read fails' {
        $out = Join-Path $Work "$Kind-missing.txt"
        Read-S3loImageFile $ref -Path /etc/nothing -OutFile $out @p -ErrorAction SilentlyContinue -ErrorVariable failed
        $failed[0].FullyQualifiedErrorId | Should -Be 'FileNotFound,S3lo.PowerShell.Commands.ReadS3loImageFileCommand'
        Test-Path $out | Should -BeFalse

        # The upper layer corrupted in the store: its digest no longer matches, and nothing is written.
        $key = "blobs/sha256/$($image.Upper.Substring(7))"
        $original = Get-TestStoreObject $store $key
        $corrupt = [byte[]]$original.Clone()
        $corrupt[$corrupt.Length - 1100] = $corrupt[$corrupt.Length - 1100] -bxor 0xFF
        Set-TestStoreObject $store $key $corrupt
        try {
            Read-S3loImageFile $ref -Path /etc/hostname -OutFile $out @p -ErrorAction SilentlyContinue -ErrorVariable corrupted
            $corrupted[0].FullyQualifiedErrorId | Should -Be 'DigestMismatch,S3lo.PowerShell.Commands.ReadS3loImageFileCommand'
            Test-Path $out | Should -BeFalse
            @(Get-ChildItem -Force $Work -Filter '.s3lo-*') | Should -BeNullOrEmpty
        } finally { Set-TestStoreObject $store $key $original }
    }
}
