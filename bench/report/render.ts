/**
 * Vega-Lite specification -> SVG (Vega's own headless SVG renderer, no browser) -> PNG (resvg).
 * Vega and Vega-Lite are ES modules: loaded with import() from this CommonJS code.
 */
import { Resvg } from '@resvg/resvg-js';
import type { TopLevelSpec } from 'vega-lite';

export async function toSvg(spec: TopLevelSpec): Promise<string> {
  const [vega, vl] = await Promise.all([import('vega'), import('vega-lite')]);
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** A PNG of the SVG at `zoom` times its size, white background, text in the system's fonts. */
export function toPng(svg: string, zoom = 1.5): Buffer {
  const r = new Resvg(svg, {
    background: 'white',
    fitTo: { mode: 'zoom', value: zoom },
    font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans', sansSerifFamily: 'DejaVu Sans' },
  });
  return r.render().asPng();
}

/** Whether resvg finds any font to draw text with (none: PNGs without labels). */
export function haveFonts(): boolean {
  const probe = '<svg xmlns="http://www.w3.org/2000/svg" width="40" height="20"><text x="0" y="15" font-family="sans-serif">Ag</text></svg>';
  const px = new Resvg(probe, { font: { loadSystemFonts: true, sansSerifFamily: 'DejaVu Sans' } }).render().pixels;
  return px.some((v, i) => i % 4 === 3 && v !== 0);
}
