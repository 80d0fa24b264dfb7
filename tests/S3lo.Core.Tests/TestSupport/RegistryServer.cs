using System.Diagnostics;
using System.Net;
using System.Text;

namespace S3lo.Core.Tests.TestSupport;

/// <summary>
/// The real Distribution registry (Debian's docker-registry) on 127.0.0.1 and a free port, storing in a temporary
/// directory, optionally behind htpasswd basic auth; stopped by its PID on dispose.
/// </summary>
public sealed class RegistryServer : IDisposable
{
    private readonly TempDir _dir = new();
    private readonly Process _process;
    private readonly StringBuilder _log = new();

    public RegistryServer(string? user = null, string? password = null)
    {
        var port = TestPorts.Free();
        Host = $"127.0.0.1:{port}";
        var config = new StringBuilder($"""
            version: 0.1
            log:
              level: warn
            storage:
              filesystem:
                rootdirectory: {_dir.File("data")}
              delete:
                enabled: true
            http:
              addr: {Host}
            """);
        if (user is not null)
        {
            File.WriteAllText(_dir.File("htpasswd"), Tool.Run("htpasswd", "-Bbn", user, password!).Trim() + "\n");
            config.Append($"""

                auth:
                  htpasswd:
                    realm: test
                    path: {_dir.File("htpasswd")}
                """);
        }
        File.WriteAllText(_dir.File("config.yml"), config.ToString() + "\n");

        var info = new ProcessStartInfo("docker-registry") { RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add("serve");
        info.ArgumentList.Add(_dir.File("config.yml"));
        _process = Process.Start(info)!;
        _process.OutputDataReceived += (_, e) => { lock (_log) _log.AppendLine(e.Data); };
        _process.ErrorDataReceived += (_, e) => { lock (_log) _log.AppendLine(e.Data); };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        WaitUntilServing();
    }

    /// <summary>host:port, as image references name the registry.</summary>
    public string Host { get; }

    private void WaitUntilServing()
    {
        using var http = new HttpClient();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited) break;
            try
            {
                var status = http.GetAsync($"http://{Host}/v2/").GetAwaiter().GetResult().StatusCode;
                if (status is HttpStatusCode.OK or HttpStatusCode.Unauthorized) return;
            }
            catch (HttpRequestException)
            {
            }
            Thread.Sleep(100);
        }
        string log;
        lock (_log) log = _log.ToString();
        Dispose();
        throw new InvalidOperationException($"docker-registry did not start on {Host}: {log}");
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            _process.WaitForExit();
        }
        _process.Dispose();
        _dir.Dispose();
    }
}
