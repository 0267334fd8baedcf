/**
 * Every <text> of an SVG the bench writes whose estimated extent leaves the
 * picture: its width from a conservative 0.6 em per character (0.66 bold),
 * placed by its x and text-anchor, against the SVG's width; its baseline
 * against the height. Empty when everything fits.
 */
export function textOutsideSvg(svg: string): string[] {
  const size = /<svg [^>]*width="([\d.]+)" height="([\d.]+)"/.exec(svg);
  if (!size) throw new Error('no width and height on the <svg>');
  const width = Number(size[1]);
  const height = Number(size[2]);
  const outside: string[] = [];
  for (const m of svg.matchAll(/<text ([^>]*)>([^<]*)<\/text>/g)) {
    const attrs = m[1] as string;
    const text = (m[2] as string).replace(/&(amp|lt|gt);/g, '_');
    const attr = (name: string) => new RegExp(`(?:^| )${name}="([^"]*)"`).exec(attrs)?.[1];
    const fontSize = Number(attr('font-size') ?? 16);
    const em = attr('font-weight') === 'bold' ? 0.66 : 0.6;
    const w = [...text].length * em * fontSize;
    const x = Number(attr('x'));
    const y = Number(attr('y'));
    const anchor = attr('text-anchor') ?? 'start';
    const left = anchor === 'end' ? x - w : anchor === 'middle' ? x - w / 2 : x;
    if (left < 0 || left + w > width || y < fontSize || y > height) {
      outside.push(
        `"${text}" spans x ${left.toFixed(0)}–${(left + w).toFixed(0)} at y ${y} in ${width} × ${height}`,
      );
    }
  }
  return outside;
}
