<#
Stores for the cmdlet tests: the same behaviour tests run against a fresh local directory, a fresh
bucket on the test S3 server and a fresh container on the test Azurite, through one description of "a store" (its reference prefix, the parameters that reach it, and
a way to look at its objects without going through S3lo).
#>
Set-StrictMode -Version 3.0
$ErrorActionPreference = 'Stop'

$script:Buckets = 0
$script:RepoRoot = (Resolve-Path (Join-Path $PSScriptRoot '../..')).ProviderPath
$script:ServerScripts = Join-Path $script:RepoRoot 'tests/servers'
# Azurite's one account and its well-known key (the same in every emulator install).
$script:AzuriteAccount = 'devstoreaccount1'
$script:AzuriteKey = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='

function Initialize-TestSuite {
    <#
    .SYNOPSIS
    What every cmdlet test file starts with: the built module and the test helpers imported for the whole
    session, a fresh work directory, with -S3 a running S3 server and with -Azure a running Azurite.
    Returns Work, Server (the S3 server) and AzureServer.
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [string] $Name, [switch] $S3, [switch] $Azure)
    Import-Module $env:S3LO_MODULE_PATH -Global -Force
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Global -Force
    $work = (New-Item -ItemType Directory -Path (Join-Path ([IO.Path]::GetTempPath()) "s3lo-$Name-$([guid]::NewGuid().ToString('N'))")).FullName
    $suite = [pscustomobject]@{ Work = $work; Server = if ($S3) { Start-TestS3Server }; AzureServer = if ($Azure) { Start-TestAzureServer } }
    # New-TestStore -Kind az finds Azurite here, so the per-kind tests pass the S3 server alone.
    $script:SuiteAzureServer = $suite.AzureServer
    $suite
}

function Complete-TestSuite {
    <# .SYNOPSIS Stops what Initialize-TestSuite started and removes its work directory. #>
    [CmdletBinding()]
    param([AllowNull()] $Suite)
    if (-not $Suite) { return }
    if ($Suite.Server) { Stop-TestS3Server $Suite.Server }
    if ($Suite.AzureServer) { Stop-TestAzureServer $Suite.AzureServer }
    Remove-Item -LiteralPath $Suite.Work -Recurse -Force -ErrorAction Ignore
}

function Start-TestAzureServer {
    <#
    .SYNOPSIS
    Starts a throwaway Azurite (blob service, in memory) on a free port of 127.0.0.1 and returns how to reach it;
    tests/servers/start-azurite.sh installs Azurite into tests/work on first use.
    .OUTPUTS
    An object with EndpointUrl (the blob endpoint, account in the path), AccountName, AccountKey, Base (the
    server's directory) and Port.
    #>
    [CmdletBinding()]
    param()
    # Port 0 lets the kernel pick an unused port; it is released at once for the server to take.
    $listener = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, 0)
    try { $listener.Start(); $port = $listener.LocalEndpoint.Port } finally { $listener.Stop() }
    $server = [pscustomobject]@{
        PSTypeName  = 'S3lo.Tests.AzureServer'
        EndpointUrl = "http://127.0.0.1:$port/$script:AzuriteAccount"
        AccountName = $script:AzuriteAccount
        AccountKey  = $script:AzuriteKey
        Base        = Join-Path $script:RepoRoot "out/azurite/$port"
        Port        = $port
    }
    Invoke-AzuriteScript $server 'start-azurite.sh' | Write-Verbose
    $server
}

function Stop-TestAzureServer {
    <# .SYNOPSIS Stops a server from Start-TestAzureServer (by its saved PID) and deletes its directory. #>
    [CmdletBinding()]
    param([Parameter(Mandatory, ValueFromPipeline)] [AllowNull()] $Server)
    process {
        if (-not $Server) { return }
        Invoke-AzuriteScript $Server 'stop-azurite.sh' '--purge' | Write-Verbose
    }
}

function Invoke-AzuriteScript($Server, [string] $Name, [string[]] $ArgumentList = @()) {
    $environment = @{ AZURITE_BASE = $Server.Base; AZURITE_PORT = "$($Server.Port)" }
    $saved = @{}
    foreach ($variable in $environment.Keys) {
        $saved[$variable] = [Environment]::GetEnvironmentVariable($variable)
        [Environment]::SetEnvironmentVariable($variable, $environment[$variable])
    }
    try { Invoke-TestProgram bash (@((Join-Path $script:ServerScripts $Name)) + $ArgumentList) }
    finally { foreach ($variable in $saved.Keys) { [Environment]::SetEnvironmentVariable($variable, $saved[$variable]) } }
}

function Import-TestAzureSdk {
    # The Azure.Storage.Blobs client the built module ships in dependencies/, loaded into this session (not into the
    # module's load context) only when a test looks at an Azure store: an independent view of what S3lo wrote.
    if ('Azure.Storage.Blobs.BlobContainerClient' -as [type]) { return }
    if (-not $env:S3LO_MODULE_PATH) { throw 'S3LO_MODULE_PATH is not set: the Azure helpers load the SDK from the built module' }
    $dependencies = Join-Path (Split-Path -Parent $env:S3LO_MODULE_PATH) 'dependencies'
    foreach ($name in 'Azure.Core', 'Azure.Storage.Common', 'Azure.Storage.Blobs') {
        $null = [System.Reflection.Assembly]::LoadFrom((Join-Path $dependencies "$name.dll"))
    }
}

function Get-TestAzureContainerClient {
    <# .SYNOPSIS The SDK's client for one container of a test Azurite, signed with the account key. #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] $Server, [Parameter(Mandatory)] [string] $Container)
    Import-TestAzureSdk
    $credential = [Azure.Storage.StorageSharedKeyCredential]::new($Server.AccountName, $Server.AccountKey)
    [Azure.Storage.Blobs.BlobContainerClient]::new([uri]"$($Server.EndpointUrl)/$Container", $credential, [Azure.Storage.Blobs.BlobClientOptions]::new())
}

function New-TestAzureContainer {
    <# .SYNOPSIS Creates a container (3-63 lowercase letters, digits and '-') on a test Azurite. #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] $Server, [Parameter(Mandatory)] [string] $Name)
    $null = (Get-TestAzureContainerClient -Server $Server -Container $Name).Create()
}

function Get-TestAzureBlobProperty {
    <# .SYNOPSIS What the service says about one blob: AccessTier, ContentLength, LastModified and ETag; throws if it is missing. #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] $Server, [Parameter(Mandatory)] [string] $Container, [Parameter(Mandatory)] [string] $Key)
    $properties = (Get-TestAzureContainerClient -Server $Server -Container $Container).GetBlobClient($Key).GetProperties($null, [Threading.CancellationToken]::None).Value
    [pscustomobject]@{
        AccessTier    = $properties.AccessTier
        ContentLength = $properties.ContentLength
        LastModified  = $properties.LastModified
        ETag          = $properties.ETag.ToString()
    }
}

function New-TestStore {
    <#
    .SYNOPSIS
    A fresh empty store: -Kind local is a new directory under -Root; -Kind s3 a new bucket on -Server (from
    Start-TestS3Server); -Kind az a new container on -Server (from Start-TestAzureServer), by default the
    Azurite that Initialize-TestSuite -Azure started.
    .OUTPUTS
    Kind, Uri (reference prefix such as s3://bucket/), Root (directory, bucket or container), Params (a
    hashtable to splat onto any S3lo cmdlet) and Server.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)] [ValidateSet('local', 's3', 'az')] [string] $Kind,
        [Parameter(Mandatory)] [string] $Root,
        $Server
    )
    $script:Buckets++
    if ($Kind -eq 'az' -and -not ($Server -and $Server.PSObject.Properties['AccountName'])) { $Server = $script:SuiteAzureServer }
    if ($Kind -eq 'local') {
        $dir = New-TestLocalStore (Join-Path $Root "store$script:Buckets-$([guid]::NewGuid().ToString('N').Substring(0, 6))")
        return [pscustomobject]@{ Kind = 'local'; Uri = "local://$dir/"; Root = $dir; Params = @{}; Server = $null }
    }
    if ($Kind -eq 'az') {
        $container = "store$script:Buckets-$([guid]::NewGuid().ToString('N').Substring(0, 10))"
        New-TestAzureContainer -Server $Server -Name $container
        return [pscustomobject]@{
            Kind   = 'az'
            Uri    = "az://$container/"
            Root   = $container
            Params = @{ StorageAccountName = $Server.AccountName; StorageAccountKey = $Server.AccountKey; EndpointUrl = $Server.EndpointUrl }
            Server = $Server
        }
    }
    $bucket = "store$script:Buckets-$([guid]::NewGuid().ToString('N').Substring(0, 10))"
    New-TestBucket -Server $Server -Name $bucket
    $credential = [pscredential]::new($Server.AccessKey, (ConvertTo-SecureString $Server.SecretKey -AsPlainText -Force))
    [pscustomobject]@{
        Kind   = 's3'
        Uri    = "s3://$bucket/"
        Root   = $bucket
        Params = @{ EndpointUrl = $Server.EndpointUrl; Credential = $credential }
        Server = $Server
    }
}

function New-TestLocalStore {
    <#
    .SYNOPSIS
    Makes an empty local store at -Path (a directory with blobs/sha256) and returns the path. A local reference names
    an existing store at any depth, while one that does not exist yet is the first path component (as the Go s3lo reads
    it), so tests that write by reference into a fresh directory make the store first, as they create a bucket.
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [string] $Path)
    $null = New-Item -ItemType Directory -Force -Path (Join-Path $Path 'blobs/sha256')
    $Path
}

function Get-TestStoreKey {
    <# .SYNOPSIS Every object key in a store (as '/'-separated keys), read directly from the directory or bucket. #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] $Store, [string] $Prefix = '')
    if ($Store.Kind -eq 's3') { return @(Get-TestS3ObjectList -Server $Store.Server -Bucket $Store.Root -Prefix $Prefix) }
    if ($Store.Kind -eq 'az') {
        $client = Get-TestAzureContainerClient -Server $Store.Server -Container $Store.Root
        return @($client.GetBlobs([Azure.Storage.Blobs.Models.BlobTraits]::None, [Azure.Storage.Blobs.Models.BlobStates]::None,
                $(if ($Prefix) { $Prefix } else { $null }), [Threading.CancellationToken]::None) | ForEach-Object Name | Sort-Object)
    }
    if (-not (Test-Path -LiteralPath $Store.Root)) { return @() }
    @(Get-ChildItem -LiteralPath $Store.Root -Recurse -File | ForEach-Object {
            [IO.Path]::GetRelativePath($Store.Root, $_.FullName).Replace('\', '/')
        } | Where-Object { $_.StartsWith($Prefix) } | Sort-Object)
}

function Get-TestStoreObject {
    <# .SYNOPSIS The bytes of one object of a store, read directly. #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] $Store, [Parameter(Mandatory)] [string] $Key)
    if ($Store.Kind -eq 'local') { return [IO.File]::ReadAllBytes((Join-Path $Store.Root $Key)) }
    if ($Store.Kind -eq 'az') {
        $blob = (Get-TestAzureContainerClient -Server $Store.Server -Container $Store.Root).GetBlobClient($Key)
        $buffer = [IO.MemoryStream]::new()
        $null = $blob.DownloadTo([IO.Stream]$buffer)
        return $buffer.ToArray()
    }
    $file = [IO.Path]::GetTempFileName()
    try {
        $null = Invoke-TestProgram curl @('-sSf', '-o', $file, '--aws-sigv4', "aws:amz:$($Store.Server.Region):s3",
            '--user', "$($Store.Server.AccessKey):$($Store.Server.SecretKey)", '-H', 'x-amz-content-sha256: UNSIGNED-PAYLOAD',
            "$($Store.Server.EndpointUrl)/$($Store.Root)/$Key")
        [IO.File]::ReadAllBytes($file)
    } finally { Remove-Item -LiteralPath $file -ErrorAction Ignore }
}

function Set-TestStoreObject {
    <# .SYNOPSIS Writes bytes under a key directly, bypassing S3lo (to corrupt a blob or plant a file). #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] $Store, [Parameter(Mandatory)] [string] $Key, [Parameter(Mandatory)] [byte[]] $Bytes)
    if ($Store.Kind -eq 'local') {
        $path = Join-Path $Store.Root $Key
        $null = New-Item -ItemType Directory -Force -Path (Split-Path -Parent $path)
        [IO.File]::WriteAllBytes($path, $Bytes)
        return
    }
    if ($Store.Kind -eq 'az') {
        $blob = (Get-TestAzureContainerClient -Server $Store.Server -Container $Store.Root).GetBlobClient($Key)
        $null = $blob.Upload([IO.Stream][IO.MemoryStream]::new($Bytes), $true, [Threading.CancellationToken]::None)
        return
    }
    $file = [IO.Path]::GetTempFileName()
    try {
        [IO.File]::WriteAllBytes($file, $Bytes)
        $response = Invoke-TestS3Request -Server $Store.Server -Method PUT -Path "/$($Store.Root)/$Key" -InFile $file
        if ($response.StatusCode -ne 200) { throw "PUT $Key answered $($response.StatusCode): $($response.Body)" }
    } finally { Remove-Item -LiteralPath $file -ErrorAction Ignore }
}

function Get-TestLayoutManifest {
    <# .SYNOPSIS The exact bytes (as text) of the manifest an OCI layout's index.json names for -Tag. #>
    param([Parameter(Mandatory)] [string] $Layout, [Parameter(Mandatory)] [string] $Tag)
    $entry = (Get-Content -Raw (Join-Path $Layout 'index.json') | ConvertFrom-Json).manifests |
        Where-Object { $_.annotations.'org.opencontainers.image.ref.name' -eq $Tag }
    if (-not $entry) { throw "tag $Tag not in $Layout" }
    [IO.File]::ReadAllText((Join-Path $Layout "blobs/sha256/$($entry.digest.Substring(7))"))
}

function New-TestCorruptLayout {
    <#
    .SYNOPSIS
    Copies an OCI layout to -Path and flips one byte near the end of its first layer's blob, so that layer no longer
    matches its digest (the corruption shows only after most of the blob was read). Returns Path and Layer (its hex digest).
    #>
    param([Parameter(Mandatory)] [string] $Layout, [Parameter(Mandatory)] [string] $Path, [string] $Tag = 'v1')
    Copy-Item -LiteralPath $Layout -Destination $Path -Recurse
    $layer = (Get-TestLayoutManifest -Layout $Path -Tag $Tag | ConvertFrom-Json).layers[0].digest.Substring(7)
    $blob = Join-Path $Path "blobs/sha256/$layer"
    $bytes = [IO.File]::ReadAllBytes($blob)
    $bytes[$bytes.Length - 100] = $bytes[$bytes.Length - 100] -bxor 0xff
    [IO.File]::WriteAllBytes($blob, $bytes)
    [pscustomobject]@{ Path = $Path; Layer = $layer }
}

function Get-TestBlobDigest {
    <# .SYNOPSIS The digests of config and layers named by an OCI image manifest's JSON. #>
    param([Parameter(Mandatory)] [string] $Json)
    $m = $Json | ConvertFrom-Json
    @($m.config.digest) + @($m.layers | ForEach-Object digest)
}

function Get-TestSha256 {
    <#
    .SYNOPSIS
    The SHA-256 digest of bytes as an OCI digest ('sha256:<hex>'), or with -Hex only the 64 lowercase hex digits
    (as in blob keys).
    #>
    param([Parameter(Mandatory)] [AllowEmptyCollection()] [byte[]] $Bytes, [switch] $Hex)
    $digest = [Convert]::ToHexString([Security.Cryptography.SHA256]::HashData($Bytes)).ToLowerInvariant()
    if ($Hex) { $digest } else { "sha256:$digest" }
}

function New-TestTar {
    <#
    .SYNOPSIS
    Writes a tar whose entries are given as an ordered hashtable of name = text, names taken as they
    are (so a test can plant '../x' or '/etc/x').
    #>
    param([Parameter(Mandatory)] [string] $Path, [Parameter(Mandatory)] [System.Collections.IDictionary] $Entries)
    $stream = [IO.File]::Create($Path)
    $writer = [System.Formats.Tar.TarWriter]::new($stream, [System.Formats.Tar.TarEntryFormat]::Pax, $false)
    try {
        foreach ($name in $Entries.Keys) {
            $entry = [System.Formats.Tar.PaxTarEntry]::new([System.Formats.Tar.TarEntryType]::RegularFile, $name)
            $entry.DataStream = [IO.MemoryStream]::new([Text.Encoding]::UTF8.GetBytes([string]$Entries[$name]))
            $writer.WriteEntry($entry)
        }
    } finally { $writer.Dispose(); $stream.Dispose() }
    $Path
}

function New-TestIndexLayout {
    <#
    .SYNOPSIS
    Makes an OCI layout whose index.json points at one multi-platform image index built from the
    images of -Layout (tag => platform), plus an attestation entry (platform unknown/unknown).
    .OUTPUTS
    The layout directory.
    #>
    param([Parameter(Mandatory)] [string] $Layout, [Parameter(Mandatory)] [System.Collections.IDictionary] $Platforms, [string] $Tag = 'multi')
    $index = Get-Content -Raw (Join-Path $Layout 'index.json') | ConvertFrom-Json
    $entries = foreach ($imageTag in $Platforms.Keys) {
        $found = $index.manifests | Where-Object { $_.annotations.'org.opencontainers.image.ref.name' -eq $imageTag }
        if (-not $found) { throw "tag $imageTag not in $Layout" }
        $os, $arch, $variant = $Platforms[$imageTag] -split '/'
        $platform = [ordered]@{ architecture = $arch; os = $os }
        if ($variant) { $platform.variant = $variant }
        [ordered]@{ mediaType = $found.mediaType; digest = $found.digest; size = $found.size; platform = $platform }
    }
    $first = @($entries)[0]
    $entries = @($entries) + [ordered]@{ mediaType = $first.mediaType; digest = $first.digest; size = $first.size
        platform = [ordered]@{ architecture = 'unknown'; os = 'unknown' }
        annotations = [ordered]@{ 'vnd.docker.reference.type' = 'attestation-manifest' } }
    $json = [ordered]@{ schemaVersion = 2; mediaType = 'application/vnd.oci.image.index.v1+json'; manifests = $entries } | ConvertTo-Json -Depth 10 -Compress
    $bytes = [Text.Encoding]::UTF8.GetBytes($json)
    $hex = Get-TestSha256 $bytes -Hex
    [IO.File]::WriteAllBytes((Join-Path $Layout "blobs/sha256/$hex"), $bytes)
    $index.manifests = @($index.manifests) + [pscustomobject]@{
        mediaType = 'application/vnd.oci.image.index.v1+json'; digest = "sha256:$hex"; size = $bytes.Length
        annotations = @{ 'org.opencontainers.image.ref.name' = $Tag } }
    $index | ConvertTo-Json -Depth 10 -Compress | Set-Content -NoNewline (Join-Path $Layout 'index.json')
    "sha256:$hex"
}

function Set-TestChunkedImage {
    <#
    .SYNOPSIS
    Writes a tag into a store as the s3lo tool stores a chunked image (docs/format.md, "Chunking", chunk_format 1): the layers of
    the -Tag image of an OCI layout, decompressed, cut at fixed offsets into chunks of -ChunkSize, each stored as one
    zstd frame (the zstd tool) under chunks/, with a recipe under recipes/ and no layer blob; the config as a blob;
    a new manifest naming each layer as tar+zstd. Returns Digest (the manifest's) and Layers (the layer digests).
    #>
    param([Parameter(Mandatory)] $Store, [Parameter(Mandatory)] [string] $Layout, [Parameter(Mandatory)] [string] $Tag,
        [Parameter(Mandatory)] [string] $Name, [Parameter(Mandatory)] [string] $ImageTag, [int] $ChunkSize = 64KB)
    $source = Get-TestLayoutManifest -Layout $Layout -Tag $Tag | ConvertFrom-Json
    $layers = foreach ($layer in $source.layers) {
        $gzip = [IO.Compression.GZipStream]::new([IO.File]::OpenRead((Join-Path $Layout "blobs/sha256/$($layer.digest.Substring(7))")), [IO.Compression.CompressionMode]::Decompress)
        $buffer = [IO.MemoryStream]::new()
        try { $gzip.CopyTo($buffer) } finally { $gzip.Dispose() }
        $raw = $buffer.ToArray()
        $frames = [IO.MemoryStream]::new()
        $chunks = for ($offset = 0; $offset -lt $raw.Length; $offset += $ChunkSize) {
            $chunk = [byte[]]$raw[$offset..([Math]::Min($offset + $ChunkSize, $raw.Length) - 1)]
            $chunkFile = [IO.Path]::GetTempFileName()
            try {
                [IO.File]::WriteAllBytes($chunkFile, $chunk)
                $null = Invoke-TestProgram zstd @('-3', '-q', '-f', $chunkFile, '-o', "$chunkFile.zst")
                $frame = [IO.File]::ReadAllBytes("$chunkFile.zst")
            } finally { Remove-Item -LiteralPath $chunkFile, "$chunkFile.zst" -ErrorAction Ignore }
            $hex = Get-TestSha256 $chunk -Hex
            Set-TestStoreObject $Store "chunks/sha256/$hex" $frame
            $frames.Write($frame, 0, $frame.Length)
            [ordered]@{ digest = $hex; size = $chunk.Length; compressedSize = $frame.Length }
        }
        $compressed = $frames.ToArray()
        $compressedHex = Get-TestSha256 $compressed -Hex
        $recipe = [ordered]@{ layer = (Get-TestSha256 $raw -Hex); size = $raw.Length; compressedDigest = $compressedHex; compressedSize = $compressed.Length; chunks = @($chunks) }
        Set-TestStoreObject $Store "recipes/sha256/$compressedHex" ([Text.Encoding]::UTF8.GetBytes(($recipe | ConvertTo-Json -Depth 5 -Compress)))
        [ordered]@{ mediaType = 'application/vnd.oci.image.layer.v1.tar+zstd'; digest = "sha256:$compressedHex"; size = $compressed.Length }
    }
    Set-TestStoreObject $Store "blobs/sha256/$($source.config.digest.Substring(7))" ([IO.File]::ReadAllBytes((Join-Path $Layout "blobs/sha256/$($source.config.digest.Substring(7))")))
    $manifest = [ordered]@{ schemaVersion = 2; mediaType = 'application/vnd.oci.image.manifest.v1+json'
        config = [ordered]@{ mediaType = $source.config.mediaType; digest = $source.config.digest; size = $source.config.size }; layers = @($layers) }
    $bytes = [Text.Encoding]::UTF8.GetBytes(($manifest | ConvertTo-Json -Depth 5 -Compress))
    Set-TestStoreObject $Store "manifests/$Name/$ImageTag/manifest.json" $bytes
    [pscustomobject]@{ Digest = (Get-TestSha256 $bytes); Layers = @($layers | ForEach-Object { $_.digest }) }
}

Export-ModuleMember -Function Initialize-TestSuite, Complete-TestSuite, Start-TestAzureServer, Stop-TestAzureServer, New-TestAzureContainer,
    Get-TestAzureContainerClient, Get-TestAzureBlobProperty, New-TestStore, New-TestLocalStore, Get-TestStoreKey, Get-TestStoreObject, Set-TestStoreObject, Get-TestLayoutManifest, New-TestCorruptLayout, Get-TestBlobDigest, Get-TestSha256, New-TestTar, New-TestIndexLayout, Set-TestChunkedImage
