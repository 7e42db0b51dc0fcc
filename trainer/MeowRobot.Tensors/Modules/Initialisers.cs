namespace MeowRobot.Tensors.Modules;

/// <summary>Weight initialisations that PyTorch code uses, drawn from our <see cref="Rng"/>.</summary>
public static class Initialisers
{
    /// <summary>
    /// As <c>nn.init.orthogonal_</c>: a Gaussian matrix, orthonormalised (QR with R's diagonal made positive, here by
    /// modified Gram-Schmidt in double precision on the taller orientation), times <paramref name="gain"/>.
    /// </summary>
    public static void Orthogonal(Tensor weight, float gain, Rng rng)
    {
        ArgumentNullException.ThrowIfNull(weight);
        ArgumentNullException.ThrowIfNull(rng);
        int rows = weight.Rows, cols = weight.Cols;
        var g = new double[rows * cols];
        for (var i = 0; i < g.Length; i++) g[i] = rng.NextNormal();
        // Orthonormalise the columns of the tall orientation: tall = rows >= cols ? W : Wᵀ.
        var tall = rows >= cols;
        int n = tall ? rows : cols, k = tall ? cols : rows;
        double Get(int r, int c) => tall ? g[r * cols + c] : g[c * cols + r];
        void Set(int r, int c, double v)
        {
            if (tall) g[r * cols + c] = v;
            else g[c * cols + r] = v;
        }
        for (var j = 0; j < k; j++)
        {
            for (var p = 0; p < j; p++)
            {
                double dot = 0;
                for (var r = 0; r < n; r++) dot += Get(r, p) * Get(r, j);
                for (var r = 0; r < n; r++) Set(r, j, Get(r, j) - dot * Get(r, p));
            }
            double norm = 0;
            for (var r = 0; r < n; r++) norm += Get(r, j) * Get(r, j);
            norm = Math.Sqrt(norm);
            if (norm < 1e-12) throw new InvalidOperationException("degenerate Gaussian draw in orthogonal init");
            for (var r = 0; r < n; r++) Set(r, j, Get(r, j) / norm);
        }
        var w = weight.Values;
        for (var i = 0; i < w.Length; i++) w[i] = (float)(gain * g[i]);
    }
}
