using System.Diagnostics;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Text;
using S3lo.Core.Storage;

namespace S3lo.Core.Server;

/// <summary>Where a started server listens, as Start-S3loServer reports it.</summary>
public sealed record ServerEndpoint(string Url, string Address, int Port, bool Tls, string Store);

/// <summary>
/// Serves one store as a read-only OCI registry over HTTP/1.1 (keep-alive, HEAD, Range), with HTTPS when given a
/// certificate. Built on <see cref="TcpListener"/> and <see cref="SslStream"/> rather than ASP.NET Core (absent from the
/// standalone pwsh packages) or HttpListener (which on Linux cannot serve HTTPS with a given certificate).
/// <see cref="RunAsync"/> serves until its token is cancelled, then stops gracefully: no new connections, idle ones
/// closed, requests in flight allowed to finish (up to <see cref="RegistryServerOptions.DrainTimeout"/>).
/// </summary>
public sealed class StoreRegistryServer : IAsyncDisposable
{
    private readonly RegistryServerOptions _options;
    private readonly RegistryHandler _handler;
    private readonly TcpListener _listener;
    private readonly SemaphoreSlim _slots;
    private readonly CancellationTokenSource _abort = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly HashSet<Task> _connections = [];
    private readonly Action<string> _log;
    private bool _started;

    public StoreRegistryServer(ImageStore store, RegistryServerOptions options)
    {
        if (!IPAddress.IsLoopback(options.ListenAddress) && options.Credentials.Count == 0 && !options.AllowAnonymous)
            throw new S3loException(ErrorIds.AnonymousListenRefused, S3loErrorKind.InvalidArgument,
                $"Serving {store.Location} on {options.ListenAddress} without authentication would open it to the network: " +
                "give -Authentication (Basic credentials), or -AllowAnonymous to serve it to anyone who can reach the address.",
                options.ListenAddress.ToString());
        if (options.Certificate is { HasPrivateKey: false } certificate)
            throw new S3loException(ErrorIds.InvalidCertificate, S3loErrorKind.InvalidArgument,
                $"The certificate {certificate.Subject} has no private key, so it cannot serve HTTPS.", certificate.Subject);
        if (options.RedirectDuration is not null)
        {
            var why = store.Objects is IPresignedReads signer ? signer.PresignUnavailableReason
                : $"{store.Location} is not in S3 or Azure: a client can only fetch its blobs through the server.";
            if (why is not null)
                throw new S3loException(ErrorIds.RedirectUnsupported, S3loErrorKind.InvalidArgument, "-Redirect cannot be used: " + why, store.Location.ToString());
        }
        _options = options;
        _log = options.Log ?? (_ => { });
        _handler = new RegistryHandler(store, options with { Log = _log })
        {
            Gate = options.RequiredSignatureKeys.Count == 0 ? null
                : new SignatureGate(store, options.SignatureStore ?? store.Location.Root, options.RequiredSignatureKeys, options.CacheDuration),
        };
        _slots = new SemaphoreSlim(Math.Max(1, options.MaxConcurrentRequests));
        _listener = new TcpListener(options.ListenAddress, options.Port);
        Store = store;
    }

    public ImageStore Store { get; }

    /// <summary>The port listened on, known once <see cref="Start"/> has run (the one picked when 0 was asked).</summary>
    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public ServerEndpoint Endpoint
    {
        get
        {
            var tls = _options.Certificate is not null;
            var address = _options.ListenAddress;
            var host = address.Equals(IPAddress.Any) ? "127.0.0.1" : address.Equals(IPAddress.IPv6Any) ? "[::1]"
                : address.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{address}]" : address.ToString();
            return new ServerEndpoint($"{(tls ? "https" : "http")}://{host}:{Port}/", address.ToString(), Port, tls, Store.Location.ToString());
        }
    }

    /// <summary>Binds the port; a port in use or an address not on this host is <c>ListenFailed</c>.</summary>
    public ServerEndpoint Start()
    {
        try
        {
            _listener.Start();
        }
        catch (SocketException e)
        {
            throw new S3loException(ErrorIds.ListenFailed, S3loErrorKind.ConnectionError,
                $"Cannot listen on {_options.ListenAddress}:{_options.Port}: {e.Message}", $"{_options.ListenAddress}:{_options.Port}", e);
        }
        _started = true;
        return Endpoint;
    }

    /// <summary>Accepts connections until <paramref name="cancellationToken"/> is cancelled, then stops gracefully.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        if (!_started) Start();
        using (cancellationToken.Register(() => _stopping.Cancel()))
        {
            try
            {
                while (true)
                {
                    var client = await _listener.AcceptTcpClientAsync(_stopping.Token).ConfigureAwait(false);
                    var connection = ServeConnectionAsync(client);
                    lock (_connections) _connections.Add(connection);
                    _ = connection.ContinueWith(t => { lock (_connections) _connections.Remove(t); }, TaskScheduler.Default);
                }
            }
            catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
            {
            }
            finally
            {
                _listener.Stop();
            }
        }
        Task[] open;
        lock (_connections) open = _connections.ToArray();
        var drained = Task.WhenAll(open);
        if (await Task.WhenAny(drained, Task.Delay(_options.DrainTimeout, CancellationToken.None)).ConfigureAwait(false) != drained)
        {
            _log($"{open.Length} connection(s) still busy after {_options.DrainTimeout}; cutting them off.");
            await _abort.CancelAsync().ConfigureAwait(false);
            await drained.ConfigureAwait(false);
        }
    }

    private async Task ServeConnectionAsync(TcpClient client)
    {
        await Task.Yield();
        var remote = client.Client.RemoteEndPoint?.ToString() ?? "?";
        try
        {
            using (client)
            {
                client.NoDelay = true;
                Stream stream = client.GetStream();
                if (_options.Certificate is { } certificate)
                {
                    var tls = new SslStream(stream, leaveInnerStreamOpen: false);
                    stream = tls;
                    using var handshake = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
                    handshake.CancelAfter(TimeSpan.FromSeconds(15));
                    await tls.AuthenticateAsServerAsync(new SslServerAuthenticationOptions
                    {
                        ServerCertificate = certificate,
                        EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
                        ClientCertificateRequired = false,
                    }, handshake.Token).ConfigureAwait(false);
                }
                await using (stream.ConfigureAwait(false))
                {
                    await ServeRequestsAsync(stream, remote).ConfigureAwait(false);
                }
            }
        }
        catch (Exception e) when (e is IOException or SocketException or AuthenticationException or OperationCanceledException or InvalidDataException or ObjectDisposedException)
        {
            // The client went away, spoke something else than HTTP/1.1 or TLS, or the server is stopping: nothing to answer.
            if (e is AuthenticationException or InvalidDataException) _log($"{remote}: connection dropped: {e.Message}");
        }
    }

    private async Task ServeRequestsAsync(Stream stream, string remote)
    {
        var reader = new HttpRequestReader(stream);
        while (!_stopping.IsCancellationRequested)
        {
            HttpRequest? request;
            using (var idle = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token))
            {
                idle.CancelAfter(_options.IdleTimeout);
                try
                {
                    request = await reader.ReadAsync(idle.Token).ConfigureAwait(false);
                }
                catch (InvalidDataException e)
                {
                    _log($"{remote}: {e.Message}: answered 400 and closed");
                    await RegistryErrors.Error(400, "UNKNOWN", "malformed request").WriteAsync(stream, false, false, _abort.Token).ConfigureAwait(false);
                    return;
                }
            }
            if (request is null) return;
            if (!await HandleOneAsync(stream, request, remote).ConfigureAwait(false)) return;
        }
    }

    /// <summary>Answers one request; false when the connection is to be closed after it.</summary>
    private async Task<bool> HandleOneAsync(Stream stream, HttpRequest request, string remote)
    {
        var clock = Stopwatch.StartNew();
        // Each request has its own token: a client that hangs up mid-blob cancels its store read and nothing else.
        using var requestAbort = CancellationTokenSource.CreateLinkedTokenSource(_abort.Token);
        await _slots.WaitAsync(requestAbort.Token).ConfigureAwait(false);
        HttpResponse? response = null;
        var keepAlive = request.KeepAlive;
        var outcome = "";
        try
        {
            try
            {
                response = await _handler.HandleAsync(request, requestAbort.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                _log($"{request.Method} {request.Path}: {e.GetType().Name}: {e.Message}");
                response = RegistryErrors.Unknown();
            }
            response.Header("Docker-Distribution-API-Version", "registry/2.0");
            keepAlive &= !_stopping.IsCancellationRequested;
            try
            {
                await response.WriteAsync(stream, request.Method == "HEAD", keepAlive, requestAbort.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not (IOException or OperationCanceledException or SocketException or ObjectDisposedException))
            {
                // The head is sent, so the only way left to tell the client the body is wrong is to cut the connection.
                outcome = $" aborted: {e.Message}";
                keepAlive = false;
            }
            catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
            {
                outcome = " client disconnected";
                keepAlive = false;
                await requestAbort.CancelAsync().ConfigureAwait(false);
            }
            return keepAlive;
        }
        finally
        {
            if (response?.Owned is { } owned) await owned.DisposeAsync().ConfigureAwait(false);
            _slots.Release();
            _log(FormatLogLine(request, response, clock.Elapsed, remote) + outcome);
        }
    }

    private static string FormatLogLine(HttpRequest request, HttpResponse? response, TimeSpan elapsed, string remote)
    {
        var text = new StringBuilder();
        text.Append(remote).Append(' ').Append(request.Method).Append(' ').Append(request.Target).Append(' ')
            .Append(response?.Status.ToString() ?? "-").Append(' ').Append(response?.ContentLength ?? 0).Append(' ')
            .Append(elapsed.TotalMilliseconds.ToString("0", System.Globalization.CultureInfo.InvariantCulture)).Append("ms");
        return text.ToString();
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        await _abort.CancelAsync().ConfigureAwait(false);
        _listener.Stop();
        Task[] open;
        lock (_connections) open = _connections.ToArray();
        await Task.WhenAll(open).ConfigureAwait(false);
        _slots.Dispose();
        _abort.Dispose();
        _stopping.Dispose();
    }
}
