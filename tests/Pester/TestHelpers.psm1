<#
Shared setup for the Pester suite: a real S3 server (Ceph RGW) on 127.0.0.1, signed S3 requests
through curl (independent of the SDK S3lo uses, so a test can check what S3lo wrote), real OCI
images made with umoci and archives made with skopeo, and a fresh pwsh for code that must load
assemblies in a clean process.
#>
Set-StrictMode -Version 3.0
$ErrorActionPreference = 'Stop'

$script:RepoRoot = (Resolve-Path (Join-Path $PSScriptRoot '../..')).ProviderPath
$script:ServerScripts = Join-Path $script:RepoRoot 'tests/servers'

function Get-FreeTcpPort {
    # Port 0 lets the kernel pick an unused port; it is released at once for the server to take.
    $listener = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, 0)
    try { $listener.Start(); $listener.LocalEndpoint.Port } finally { $listener.Stop() }
}

function Invoke-TestProgram {
    # Runs a program, returns its output lines; throws with that output if it fails.
    param([Parameter(Mandatory)] [string] $FilePath, [string[]] $ArgumentList = @())
    $output = & $FilePath @ArgumentList 2>&1 | ForEach-Object { "$_" }
    if ($LASTEXITCODE -ne 0) {
        throw "$FilePath $($ArgumentList -join ' ') failed (exit code $LASTEXITCODE):`n$($output -join "`n")"
    }
    $output
}

function Start-TestS3Server {
    <#
    .SYNOPSIS
    Starts a throwaway Ceph RGW on free ports of 127.0.0.1 and returns how to reach it.
    .OUTPUTS
    An object with EndpointUrl, AccessKey, SecretKey, Region, Base (the server's directory) and Port; with -Https also
    HttpsEndpointUrl and CertificateFile (the server's self-signed certificate, for SSL_CERT_FILE or curl --cacert).
    #>
    [CmdletBinding()]
    param([string[]] $StorageClass = @('INTELLIGENT_TIERING'), [switch] $Https)
    $port = Get-FreeTcpPort
    $root = Join-Path $script:RepoRoot 'out/rgw'
    # Ceph's unix admin sockets live under the base directory; their path must stay short.
    if ($root.Length -gt 60) { $root = Join-Path ([IO.Path]::GetTempPath()) 's3lo-rgw' }
    $server = [pscustomobject]@{
        PSTypeName  = 'S3lo.Tests.S3Server'
        EndpointUrl = "http://127.0.0.1:$port"
        AccessKey   = 'testkey'
        SecretKey   = 'testsecret'
        Region      = 'us-east-1'
        Base        = Join-Path $root "$port"
        Port        = $port
    }
    $environment = @{
        RGW_BASE            = $server.Base
        RGW_PORT            = "$port"
        RGW_MON_V2_PORT     = "$(Get-FreeTcpPort)"
        RGW_MON_V1_PORT     = "$(Get-FreeTcpPort)"
        RGW_ACCESS_KEY      = $server.AccessKey
        RGW_SECRET_KEY      = $server.SecretKey
        RGW_STORAGE_CLASSES = $StorageClass -join ' '
    }
    if ($Https) {
        $sslPort = Get-FreeTcpPort
        $environment.RGW_SSL_PORT = "$sslPort"
        $server | Add-Member -NotePropertyName HttpsEndpointUrl -NotePropertyValue "https://127.0.0.1:$sslPort"
        $server | Add-Member -NotePropertyName CertificateFile -NotePropertyValue (Join-Path $server.Base 'tls/cert.pem')
    }
    $saved = @{}
    foreach ($name in $environment.Keys) { $saved[$name] = [Environment]::GetEnvironmentVariable($name); [Environment]::SetEnvironmentVariable($name, $environment[$name]) }
    try {
        $log = Invoke-TestProgram bash @((Join-Path $script:ServerScripts 'start-rgw.sh'))
        $log | Write-Verbose
    } finally {
        foreach ($name in $saved.Keys) { [Environment]::SetEnvironmentVariable($name, $saved[$name]) }
    }
    $server
}

function Stop-TestS3Server {
    <#
    .SYNOPSIS
    Stops a server from Start-TestS3Server (by its saved PIDs) and deletes its directory.
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory, ValueFromPipeline)] [AllowNull()] $Server)
    process {
        if (-not $Server) { return }
        $saved = [Environment]::GetEnvironmentVariable('RGW_BASE')
        [Environment]::SetEnvironmentVariable('RGW_BASE', $Server.Base)
        try { Invoke-TestProgram bash @((Join-Path $script:ServerScripts 'stop-rgw.sh'), '--purge') | Write-Verbose }
        finally { [Environment]::SetEnvironmentVariable('RGW_BASE', $saved) }
    }
}

function Get-TestServerProcessId {
    # PIDs the server's start script saved (mon, osd, rgw), whether or not they still run.
    param([Parameter(Mandatory)] $Server)
    foreach ($f in Get-ChildItem -Path (Join-Path $Server.Base 'run') -Filter *.fpid -ErrorAction Ignore) { [int](Get-Content -Raw $f.FullName) }
}

function Test-ProcessRunning {
    # A stopped daemon can linger as a zombie until PID 1 reaps it; that counts as gone.
    param([Parameter(Mandatory)] [int] $Id)
    $stat = "/proc/$Id/stat"
    if (-not (Test-Path -LiteralPath $stat)) { return $false }
    $text = try { [IO.File]::ReadAllText($stat) } catch { return $false }
    $text.Substring($text.LastIndexOf(')') + 2, 1) -ne 'Z'
}

function Invoke-TestS3Request {
    <#
    .SYNOPSIS
    Sends one SigV4-signed S3 request with curl; returns StatusCode, Headers (case-insensitive) and Body.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)] $Server,
        [ValidateSet('GET', 'PUT', 'HEAD', 'DELETE', 'POST')] [string] $Method = 'GET',
        # Path and query after the endpoint, e.g. '/bucket/key' or '/bucket?list-type=2'.
        [Parameter(Mandatory)] [string] $Path,
        [hashtable] $Header = @{},
        [string] $InFile
    )
    $headerFile = [IO.Path]::GetTempFileName()
    $bodyFile = [IO.Path]::GetTempFileName()
    try {
        $arguments = @('-sS', '--max-time', '60', '-o', $bodyFile, '-D', $headerFile, '-w', '%{http_code}',
            '--aws-sigv4', "aws:amz:$($Server.Region):s3", '--user', "$($Server.AccessKey):$($Server.SecretKey)",
            '-H', 'x-amz-content-sha256: UNSIGNED-PAYLOAD')
        $arguments += if ($Method -eq 'HEAD') { '-I' } else { @('-X', $Method) }
        foreach ($k in $Header.Keys) { $arguments += @('-H', "${k}: $($Header[$k])") }
        if ($InFile) { $arguments += @('--data-binary', "@$InFile") }
        elseif ($Method -eq 'PUT') { $arguments += @('--data-binary', '') }
        $arguments += "$($Server.EndpointUrl)$Path"
        $status = Invoke-TestProgram curl $arguments | Select-Object -Last 1
        $headers = [System.Collections.Hashtable]::new([StringComparer]::OrdinalIgnoreCase)
        foreach ($line in Get-Content -LiteralPath $headerFile) {
            if ($line -match '^([^:\s]+):\s*(.*?)\s*$') { $headers[$Matches[1]] = $Matches[2] }
        }
        [pscustomobject]@{ StatusCode = [int]$status; Headers = $headers; Body = [IO.File]::ReadAllText($bodyFile) }
    } finally {
        Remove-Item -LiteralPath $headerFile, $bodyFile -ErrorAction Ignore
    }
}

function Assert-TestS3Status {
    param($Response, [int[]] $Expected, [string] $What)
    if ($Response.StatusCode -notin $Expected) { throw "$What answered HTTP $($Response.StatusCode): $($Response.Body)" }
}

function New-TestBucket {
    <# .SYNOPSIS Creates a bucket (name of 3+ characters) on a test server. #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] $Server, [Parameter(Mandatory)] [string] $Name)
    $response = Invoke-TestS3Request -Server $Server -Method PUT -Path "/$Name"
    Assert-TestS3Status $response 200 "CreateBucket $Name"
}

function Get-TestS3ObjectHeader {
    <# .SYNOPSIS HEADs an object; returns its response headers as a case-insensitive hashtable, or throws if it is missing. #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] $Server, [Parameter(Mandatory)] [string] $Bucket, [Parameter(Mandatory)] [string] $Key)
    $response = Invoke-TestS3Request -Server $Server -Method HEAD -Path "/$Bucket/$([uri]::EscapeDataString($Key).Replace('%2F', '/'))"
    Assert-TestS3Status $response 200 "HeadObject $Bucket/$Key"
    $response.Headers
}

function Get-TestS3ObjectList {
    <# .SYNOPSIS Lists the keys of a bucket (ListObjectsV2, every page), optionally under a prefix. #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] $Server, [Parameter(Mandatory)] [string] $Bucket, [string] $Prefix = '')
    $token = $null
    do {
        $query = "list-type=2&prefix=$([uri]::EscapeDataString($Prefix))"
        if ($token) { $query += "&continuation-token=$([uri]::EscapeDataString($token))" }
        $response = Invoke-TestS3Request -Server $Server -Path "/$Bucket`?$query"
        Assert-TestS3Status $response 200 "ListObjectsV2 $Bucket"
        $xml = [xml]$response.Body
        $nsm = [System.Xml.XmlNamespaceManager]::new($xml.NameTable)
        $nsm.AddNamespace('s3', $xml.DocumentElement.NamespaceURI)
        foreach ($node in $xml.SelectNodes('//s3:Contents/s3:Key', $nsm)) { $node.InnerText }
        $truncated = $xml.SelectSingleNode('//s3:IsTruncated', $nsm).InnerText -eq 'true'
        $token = if ($truncated) { $xml.SelectSingleNode('//s3:NextContinuationToken', $nsm).InnerText }
    } while ($truncated)
}

function New-TestImage {
    <#
    .SYNOPSIS
    Makes a real OCI image layout with umoci: one layer per -Layers, each adding a file of random bytes.
    .OUTPUTS
    The layout directory.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)] [string] $Path,
        [ValidateRange(1, 100)] [int] $Layers = 1,
        [ValidateRange(0, 1GB)] [long] $LayerSize = 1MB,
        [string] $Tag = 'latest',
        # The image config's architecture (linux), such as arm64; umoci's default is the host's.
        [string] $Architecture
    )
    $layout = [IO.Path]::GetFullPath($Path)
    if (-not (Test-Path -LiteralPath (Join-Path $layout 'oci-layout'))) {
        if (Test-Path -LiteralPath $layout) { Remove-Item -LiteralPath $layout -Recurse -Force }
        $null = Invoke-TestProgram umoci @('init', '--layout', $layout)
    }
    $image = "${layout}:$Tag"
    $null = Invoke-TestProgram umoci @('new', '--image', $image)
    if ($Architecture) { $null = Invoke-TestProgram umoci @('config', '--image', $image, '--os', 'linux', '--architecture', $Architecture) }
    $bundle = "$layout.bundle"
    $buffer = [byte[]]::new([Math]::Min($LayerSize, 1MB))
    for ($i = 1; $i -le $Layers; $i++) {
        if (Test-Path -LiteralPath $bundle) { Remove-Item -LiteralPath $bundle -Recurse -Force }
        $null = Invoke-TestProgram umoci @('unpack', '--rootless', '--image', $image, $bundle)
        $stream = [IO.File]::Create((Join-Path $bundle "rootfs/layer$i.bin"))
        try {
            for ($left = $LayerSize; $left -gt 0; $left -= $buffer.Length) {
                [System.Security.Cryptography.RandomNumberGenerator]::Fill($buffer)
                $stream.Write($buffer, 0, [int][Math]::Min($left, $buffer.Length))
            }
        } finally { $stream.Dispose() }
        $null = Invoke-TestProgram umoci @('repack', '--image', $image, $bundle)
    }
    Remove-Item -LiteralPath $bundle -Recurse -Force -ErrorAction Ignore
    $layout
}

function ConvertTo-TestArchive {
    <#
    .SYNOPSIS
    Copies an image from an OCI layout into a docker-archive or oci-archive file with skopeo.
    .OUTPUTS
    The archive path.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)] [string] $Layout,
        [string] $Tag = 'latest',
        [Parameter(Mandatory)] [ValidateSet('docker-archive', 'oci-archive')] [string] $Format,
        [Parameter(Mandatory)] [string] $Path,
        [string] $ImageName = 'app:latest'
    )
    $archive = [IO.Path]::GetFullPath($Path)
    Remove-Item -LiteralPath $archive -ErrorAction Ignore
    # --insecure-policy: the test machine's /etc/containers/policy.json is not ours to rely on.
    $null = Invoke-TestProgram skopeo @('--insecure-policy', 'copy', '--quiet', "oci:$([IO.Path]::GetFullPath($Layout)):$Tag", "${Format}:${archive}:$ImageName")
    $archive
}

function Start-TestRegistry {
    <#
    .SYNOPSIS
    Starts the Distribution registry (docker-registry) on a free port of 127.0.0.1, optionally behind htpasswd
    basic auth; returns Host (127.0.0.1:PORT), Process, Directory, User and Password.
    #>
    [CmdletBinding()]
    param([switch] $BasicAuth)
    $port = Get-FreeTcpPort
    $dir = (New-Item -ItemType Directory -Path (Join-Path ([IO.Path]::GetTempPath()) "s3lo-registry-$port")).FullName
    $config = "version: 0.1`nlog:`n  level: error`nstorage:`n  filesystem:`n    rootdirectory: $dir/data`n  delete:`n    enabled: true`nhttp:`n  addr: 127.0.0.1:$port`n"
    $user = 'tester'; $password = 'secret-pass'
    if ($BasicAuth) {
        Invoke-TestProgram htpasswd @('-Bbn', $user, $password) | Set-Content -LiteralPath "$dir/htpasswd"
        $config += "auth:`n  htpasswd:`n    realm: test`n    path: $dir/htpasswd`n"
    }
    Set-Content -LiteralPath "$dir/config.yml" -Value $config
    $process = Start-Process -FilePath /usr/bin/docker-registry -ArgumentList 'serve', "$dir/config.yml" -PassThru `
        -RedirectStandardOutput "$dir/stdout.log" -RedirectStandardError "$dir/stderr.log"
    $deadline = [DateTime]::UtcNow.AddSeconds(30)
    while ([DateTime]::UtcNow -lt $deadline) {
        $client = [System.Net.Sockets.TcpClient]::new()
        try { $client.Connect('127.0.0.1', $port); break } catch { Start-Sleep -Milliseconds 100 } finally { $client.Dispose() }
    }
    [pscustomobject]@{ Host = "127.0.0.1:$port"; Process = $process; Directory = $dir; User = $user; Password = $password }
}

function Stop-TestRegistry {
    <# .SYNOPSIS Stops a registry from Start-TestRegistry by its PID and deletes its data. #>
    [CmdletBinding()]
    param([Parameter(Mandatory, ValueFromPipeline)] [AllowNull()] $Registry)
    process {
        if (-not $Registry) { return }
        Stop-Process -Id $Registry.Process.Id -Force -ErrorAction Ignore
        $null = $Registry.Process.WaitForExit(10000)
        Remove-Item -LiteralPath $Registry.Directory -Recurse -Force -ErrorAction Ignore
    }
}

function Start-TestPodman {
    <#
    .SYNOPSIS
    Starts podman's Docker-compatible API on a unix socket (vfs storage in a short temporary directory);
    returns Socket (for DOCKER_HOST, as unix://…), Podman (the storage arguments for the podman CLI),
    Process and Directory. With -NoService only the storage is made, for the podman CLI: Socket and
    Process are null.
    #>
    [CmdletBinding()]
    param([switch] $NoService)
    # podman refuses a run root path longer than 50 characters.
    $dir = (New-Item -ItemType Directory -Path "/tmp/s3lo-pm-$([guid]::NewGuid().ToString('N').Substring(0, 6))").FullName
    $storage = @('--storage-driver', 'vfs', '--root', "$dir/root", '--runroot', "$dir/run")
    if ($NoService) { return [pscustomobject]@{ Socket = $null; Podman = $storage; Process = $null; Directory = $dir } }
    $process = Start-Process -FilePath podman -ArgumentList ($storage + @('system', 'service', '--time=0', "unix://$dir/podman.sock")) -PassThru `
        -RedirectStandardOutput "$dir/stdout.log" -RedirectStandardError "$dir/stderr.log"
    $deadline = [DateTime]::UtcNow.AddSeconds(30)
    while (-not (Test-Path "$dir/podman.sock") -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 100 }
    if (-not (Test-Path "$dir/podman.sock")) { throw "podman system service did not start: $(Get-Content -Raw "$dir/stderr.log")" }
    [pscustomobject]@{ Socket = "unix://$dir/podman.sock"; Podman = $storage; Process = $process; Directory = $dir }
}

function Stop-TestPodman {
    <# .SYNOPSIS Stops a service from Start-TestPodman by its PID (if it started one) and removes its storage. #>
    [CmdletBinding()]
    param([Parameter(Mandatory, ValueFromPipeline)] [AllowNull()] $Podman)
    process {
        if (-not $Podman) { return }
        if ($Podman.Process) {
            Stop-Process -Id $Podman.Process.Id -Force -ErrorAction Ignore
            $null = $Podman.Process.WaitForExit(10000)
        }
        $null = & podman @($Podman.Podman) system reset --force 2>&1
        Remove-Item -LiteralPath $Podman.Directory -Recurse -Force -ErrorAction Ignore
    }
}

function Invoke-TestPwsh {
    <#
    .SYNOPSIS
    Runs a script block in a new pwsh (the one running the tests) and returns its output lines.
    A loaded assembly cannot be unloaded, so anything that loads one under test goes here.
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [string] $Command, [string] $WorkingDirectory = $script:RepoRoot)
    $host_ = (Get-Process -Id $PID).Path
    $arguments = @('-NoLogo', '-NoProfile', '-NonInteractive', '-Command', $Command)
    # pwsh as a dotnet tool runs as 'dotnet pwsh.dll'; an installed pwsh runs as itself.
    if ([IO.Path]::GetFileNameWithoutExtension($host_) -eq 'dotnet') { $arguments = @((Join-Path $PSHOME 'pwsh.dll')) + $arguments }
    Push-Location $WorkingDirectory
    try { Invoke-TestProgram $host_ $arguments } finally { Pop-Location }
}

Export-ModuleMember -Function Invoke-TestProgram, Start-TestRegistry, Stop-TestRegistry, Start-TestPodman, Stop-TestPodman, Start-TestS3Server, Stop-TestS3Server, Get-TestServerProcessId, Test-ProcessRunning, Invoke-TestS3Request,
    New-TestBucket, Get-TestS3ObjectHeader, Get-TestS3ObjectList, New-TestImage, ConvertTo-TestArchive, Invoke-TestPwsh
