using System.Collections.Concurrent;
using System.Net;

namespace S3lo.Core.Tests.TestSupport;

/// <summary>The ways <see cref="FaultProxy"/> misbehaves.</summary>
public enum Fault
{
    /// <summary>503 with an S3-style SlowDown body (Azure and registries take it as throttling too).</summary>
    Unavailable,
    /// <summary>500 InternalError.</summary>
    InternalError,
    /// <summary>The connection is reset before any answer; the request is not forwarded.</summary>
    ResetBeforeAnswer,
    /// <summary>The request is forwarded and answered, but the answer's body is cut off halfway and the connection reset
    /// (a response without a body is reset after the request was forwarded: the server did the work, the client never hears).</summary>
    BodyCutOff,
    /// <summary>The request waits <see cref="FaultProxy.StallTime"/> before it is forwarded.</summary>
    Stall,
    /// <summary>The request is forwarded and answered; half the answer's body is sent, then nothing for
    /// <see cref="FaultProxy.StallTime"/>, then the rest. Only when asked for by name.</summary>
    BodyStall,
}

/// <summary>
/// A reverse proxy on 127.0.0.1 that injects faults into a seeded share of the requests it forwards to a test server
/// (RGW, Azurite, the Distribution registry). Which request gets which fault follows from the seed and the order the
/// requests arrive in. The Host header is passed on unchanged, so S3 signatures still match and a registry names the
/// proxy in the upload locations it gives out.
/// </summary>
public sealed class FaultProxy : IDisposable
{
    private static readonly HashSet<string> HopHeaders = new(StringComparer.OrdinalIgnoreCase)
    {
        "Host", "Content-Length", "Transfer-Encoding", "Connection", "Keep-Alive", "Expect", "Proxy-Connection", "TE", "Upgrade",
    };

    private readonly HttpListener _listener = new();
    private readonly HttpClient _http = new(new SocketsHttpHandler
    {
        AllowAutoRedirect = false, UseCookies = false, AutomaticDecompression = DecompressionMethods.None,
    }) { Timeout = TimeSpan.FromMinutes(2) };
    private readonly Uri _target;
    private readonly Random _random;
    private readonly Fault[] _kinds;
    private readonly ConcurrentDictionary<Fault, int> _injected = new();
    private int _requests;
    private int _drawn;

    /// <param name="target">The server's base URL, e.g. <c>http://127.0.0.1:7480</c>.</param>
    /// <param name="rate">The share of requests that get a fault, 0 to 1.</param>
    /// <param name="kinds">The faults to draw from, evenly; all of them when none are given.</param>
    public FaultProxy(string target, int seed, double rate = 0.1, params Fault[] kinds)
    {
        _target = new Uri(target);
        Seed = seed;
        Rate = rate;
        _random = new Random(seed);
        _kinds = kinds.Length > 0 ? kinds : Enum.GetValues<Fault>().Where(k => k != Fault.BodyStall).ToArray();
        Port = TestPorts.Free();
        _listener.Prefixes.Add($"http://127.0.0.1:{Port}/");
        _listener.Start();
        _ = Task.Run(LoopAsync);
    }

    public int Seed { get; }
    public double Rate { get; }
    public int Port { get; }
    /// <summary>host:port, as a registry reference names it.</summary>
    public string Host => $"127.0.0.1:{Port}";
    /// <summary>The proxy's URL with the target's path, e.g. Azurite's account segment.</summary>
    public string Url => $"http://{Host}{_target.AbsolutePath.TrimEnd('/')}";
    public TimeSpan StallTime { get; init; } = TimeSpan.FromSeconds(2);
    /// <summary>How many faults to inject at most; the requests after them are forwarded untouched (and counted).</summary>
    public int MaxFaults { get; init; } = int.MaxValue;
    /// <summary>While false, every request is forwarded untouched (and not counted).</summary>
    public bool Enabled { get; set; } = true;

    public int Requests => Volatile.Read(ref _requests);
    public int Injected(Fault kind) => _injected.GetValueOrDefault(kind);
    public int InjectedTotal => _injected.Values.Sum();

    /// <summary>"503:2 500:1 reset:0 cut:3 stall:1 of 120 requests".</summary>
    public string Summary
        => $"503:{Injected(Fault.Unavailable)} 500:{Injected(Fault.InternalError)} reset:{Injected(Fault.ResetBeforeAnswer)} " +
           $"cut:{Injected(Fault.BodyCutOff)} stall:{Injected(Fault.Stall)} body-stall:{Injected(Fault.BodyStall)} of {Requests} requests";

    private Fault? Draw()
    {
        if (!Enabled) return null;
        Interlocked.Increment(ref _requests);
        lock (_random)
        {
            if (_random.NextDouble() >= Rate || _drawn >= MaxFaults) return null;
            _drawn++;
            return _kinds[_random.Next(_kinds.Length)];
        }
    }

    private async Task LoopAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception) when (!_listener.IsListening)
            {
                return;
            }
            catch (HttpListenerException)
            {
                continue;
            }
            _ = Task.Run(() => HandleAsync(context));
        }
    }

    private async Task HandleAsync(HttpListenerContext context)
    {
        try
        {
            var fault = Draw();
            var requestBody = await ReadAllAsync(context.Request.InputStream);
            switch (fault)
            {
                case Fault.ResetBeforeAnswer:
                    Count(Fault.ResetBeforeAnswer);
                    Reset(context);
                    return;
                case Fault.Unavailable or Fault.InternalError:
                    Count(fault.Value);
                    await AnswerErrorAsync(context, fault == Fault.Unavailable ? 503 : 500,
                        fault == Fault.Unavailable ? "SlowDown" : "InternalError");
                    return;
                case Fault.Stall:
                    Count(Fault.Stall);
                    await Task.Delay(StallTime);
                    break;
            }

            using var request = new HttpRequestMessage(new HttpMethod(context.Request.HttpMethod), new Uri(_target, context.Request.RawUrl));
            if (requestBody.Length > 0 || context.Request.HttpMethod is "PUT" or "POST" or "PATCH")
                request.Content = new ByteArrayContent(requestBody);
            foreach (var name in context.Request.Headers.AllKeys)
            {
                if (name is null || HopHeaders.Contains(name)) continue;
                var values = context.Request.Headers.GetValues(name) ?? [];
                if (!request.Headers.TryAddWithoutValidation(name, values)) request.Content?.Headers.TryAddWithoutValidation(name, values);
            }
            request.Headers.Host = context.Request.Headers["Host"];

            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseContentRead);
            var body = await response.Content.ReadAsByteArrayAsync();
            context.Response.StatusCode = (int)response.StatusCode;
            foreach (var (name, values) in response.Headers.Concat(response.Content.Headers))
            {
                if (HopHeaders.Contains(name)) continue;
                foreach (var value in values) TryAddHeader(context.Response, name, value);
            }
            var isHead = context.Request.HttpMethod == "HEAD";
            context.Response.ContentLength64 = isHead ? response.Content.Headers.ContentLength ?? 0 : body.Length;
            if (fault == Fault.BodyCutOff)
            {
                Count(Fault.BodyCutOff);
                if (!isHead && body.Length > 1)
                {
                    await context.Response.OutputStream.WriteAsync(body.AsMemory(0, body.Length / 2));
                    await context.Response.OutputStream.FlushAsync();
                }
                Reset(context);
                return;
            }
            if (fault == Fault.BodyStall && !isHead && body.Length > 1)
            {
                Count(Fault.BodyStall);
                await context.Response.OutputStream.WriteAsync(body.AsMemory(0, body.Length / 2));
                await context.Response.OutputStream.FlushAsync();
                await Task.Delay(StallTime);
                await context.Response.OutputStream.WriteAsync(body.AsMemory(body.Length / 2));
                context.Response.Close();
                return;
            }
            if (!isHead) await context.Response.OutputStream.WriteAsync(body);
            context.Response.Close();
        }
        catch (Exception)
        {
            context.Response.Abort();
        }
    }

    /// <summary>
    /// Resets the client's connection (RST, no answer). HttpListener's own Response.Abort() does not: the managed listener
    /// answers "200 OK" with an empty body before it closes, which a client rightly takes for success. The socket is
    /// reached by reflection, since the listener does not expose it; this is a test's fault injection, nothing more.
    /// </summary>
    private static void Reset(HttpListenerContext context)
    {
        const System.Reflection.BindingFlags flags = System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Instance;
        var connection = typeof(HttpListenerContext).GetProperty("Connection", flags)?.GetValue(context);
        if (connection?.GetType().GetField("_socket", flags)?.GetValue(connection) is System.Net.Sockets.Socket socket)
        {
            socket.LingerState = new System.Net.Sockets.LingerOption(true, 0);
            socket.Close();
            return;
        }
        throw new InvalidOperationException("The fault proxy cannot reach the connection's socket to reset it.");
    }

    // HttpListener sets a few headers itself and refuses them from the caller; those are left to it.
    private static void TryAddHeader(HttpListenerResponse response, string name, string value)
    {
        try
        {
            response.Headers.Add(name, value);
        }
        catch (ArgumentException)
        {
        }
    }

    private void Count(Fault kind) => _injected.AddOrUpdate(kind, 1, (_, n) => n + 1);

    private static async Task AnswerErrorAsync(HttpListenerContext context, int status, string code)
    {
        var body = System.Text.Encoding.UTF8.GetBytes(
            $"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code><Message>Injected by the fault proxy.</Message></Error>");
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/xml";
        context.Response.Headers.Add("x-ms-error-code", status == 503 ? "ServerBusy" : "InternalError");
        context.Response.ContentLength64 = context.Request.HttpMethod == "HEAD" ? 0 : body.Length;
        if (context.Request.HttpMethod != "HEAD") await context.Response.OutputStream.WriteAsync(body);
        context.Response.Close();
    }

    private static async Task<byte[]> ReadAllAsync(Stream input)
    {
        using var buffer = new MemoryStream();
        await input.CopyToAsync(buffer);
        return buffer.ToArray();
    }

    public void Dispose()
    {
        _listener.Stop();
        _listener.Close();
        _http.Dispose();
    }
}
