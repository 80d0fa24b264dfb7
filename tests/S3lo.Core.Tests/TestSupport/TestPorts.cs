using System.Net;
using System.Net.Sockets;

namespace S3lo.Core.Tests.TestSupport;

/// <summary>Ports on 127.0.0.1 for the test servers.</summary>
public static class TestPorts
{
    /// <summary>
    /// A port nothing listens on at the moment of return: the system's pick for a listener that is closed at once.
    /// A server started on it races any other process for it; a client connecting to it is refused.
    /// </summary>
    public static int Free()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
