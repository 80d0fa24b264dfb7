using System.Collections.Concurrent;

namespace S3lo.Core.Chunking;

/// <summary>
/// The memory of chunked writes into one destination, shared by all its layers: at most <see cref="Layers"/> layers are
/// cut at once (each fills one raw buffer), and at most <see cref="Slots"/> chunks are in flight across them (each holds a
/// raw buffer until compressed, or until the frame stored for it is read back and checked, then that frame until hashed
/// in order). Buffers are allocated on first need and reused, so a push holds at most <c>(Layers + 2 × Slots)</c> buffers
/// of about 16 MiB, whatever the size or number of its layers.
/// Not ArrayPool.Shared: it keeps arrays in per-thread slots and makes new ones for threads that find none, so the
/// number alive is not bounded by the number in use.
/// </summary>
internal sealed class ChunkBudget : IDisposable
{
    private readonly SemaphoreSlim _slots;
    private readonly SemaphoreSlim _layers;
    private readonly ConcurrentStack<byte[]> _raw = new();
    private readonly ConcurrentStack<byte[]> _frames = new();
    private int _rawAllocated;
    private int _framesAllocated;
    private int _inFlight;
    private int _maxInFlight;

    public ChunkBudget(int slots, int layers)
    {
        Slots = slots;
        Layers = layers;
        _slots = new SemaphoreSlim(slots, slots);
        _layers = new SemaphoreSlim(layers, layers);
    }

    /// <summary>Chunks compressed at once: one per core (at least 2, at most 4); 2 layers cut at once.</summary>
    public static ChunkBudget ForThisMachine() => new(Math.Clamp(Environment.ProcessorCount, 2, 4), 2);

    public int Slots { get; }

    public int Layers { get; }

    /// <summary>The largest frame one chunk compresses to.</summary>
    public static int FrameSize { get; } = (int)ZstdSharp.Compressor.GetCompressBound(FastCdc.MaxSize);

    /// <summary>Raw and frame buffers made so far (each made once, then reused).</summary>
    public int RawBuffersAllocated => Volatile.Read(ref _rawAllocated);

    public int FrameBuffersAllocated => Volatile.Read(ref _framesAllocated);

    /// <summary>The most chunks that were in flight at one moment.</summary>
    public int MaxInFlight => Volatile.Read(ref _maxInFlight);

    public Task EnterLayerAsync(CancellationToken cancellationToken) => _layers.WaitAsync(cancellationToken);

    public void LeaveLayer() => _layers.Release();

    /// <summary>Takes a chunk slot if one is free now.</summary>
    public bool TryEnterChunk()
    {
        if (!_slots.Wait(0)) return false;
        Entered();
        return true;
    }

    public async Task EnterChunkAsync(CancellationToken cancellationToken)
    {
        await _slots.WaitAsync(cancellationToken).ConfigureAwait(false);
        Entered();
    }

    public void LeaveChunk()
    {
        Interlocked.Decrement(ref _inFlight);
        _slots.Release();
    }

    /// <summary>A buffer of <see cref="FastCdc.MaxSize"/> bytes for a layer's window or a chunk's raw bytes.</summary>
    public byte[] RentRaw() => Rent(_raw, ref _rawAllocated, FastCdc.MaxSize);

    public void ReturnRaw(byte[] buffer) => _raw.Push(buffer);

    /// <summary>A buffer of <see cref="FrameSize"/> bytes for a chunk's zstd frame.</summary>
    public byte[] RentFrame() => Rent(_frames, ref _framesAllocated, FrameSize);

    public void ReturnFrame(byte[] buffer) => _frames.Push(buffer);

    public void Dispose()
    {
        _raw.Clear();
        _frames.Clear();
        _slots.Dispose();
        _layers.Dispose();
    }

    private void Entered()
    {
        var now = Interlocked.Increment(ref _inFlight);
        int seen;
        while (now > (seen = Volatile.Read(ref _maxInFlight)) && Interlocked.CompareExchange(ref _maxInFlight, now, seen) != seen)
        {
        }
    }

    private static byte[] Rent(ConcurrentStack<byte[]> free, ref int allocated, int size)
    {
        if (free.TryPop(out var buffer)) return buffer;
        Interlocked.Increment(ref allocated);
        return GC.AllocateUninitializedArray<byte>(size);
    }
}
