#!/usr/bin/env python3
"""ReportLab baseline for `cargo bench -p relais --bench render`.

Draws the same invoices as the Rust renderer (read from the JSON file the
bench writes, in pos_bridge's Invoice shape) at ReportLab's canvas level,
its fastest path, with the same embedded DejaVu Sans Condensed fonts, and
prints the best of three batch times in seconds on the last line.

Usage: reportlab_baseline.py INVOICES.json FONT_DIR
"""
import io
import json
import sys
import time
from decimal import Decimal

from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

FONTS = sys.argv[2].rstrip('/') + '/'
pdfmetrics.registerFont(TTFont('R', FONTS + 'DejaVuSansCondensed.ttf'))
pdfmetrics.registerFont(TTFont('B', FONTS + 'DejaVuSansCondensed-Bold.ttf'))


def eur(d):
    return '{:,.2f}'.format(d).replace(',', ' ').replace('.', ',') + ' EUR'


def fr(d):
    return format(d.normalize(), 'f').replace('.', ',')


def load(path):
    out = []
    for inv in json.load(open(path, encoding='utf-8')):
        lines = []
        for l in inv['lines']:
            lines.append(dict(web=l['origin'] == 'Web', ref=l['reference'], art=l['article'],
                              label=l['label'], q=Decimal(l['quantity']), unit=l['unit'],
                              pu=Decimal(l['unit_price_ht']), rate=Decimal(l['vat_rate']),
                              ht=Decimal(l['amount_ht']), vat=Decimal(l['amount_vat'])))
        out.append(dict(number=inv['number'], code=inv['customer']['code'],
                        name=inv['customer']['name'], lines=lines))
    return out


COLS=[(42.5,56,'L','Réf.'),(98.5,190,'L','Désignation'),(288.5,48,'R','Qté'),(336.5,38,'L','Unité'),(374.5,64,'R','PU HT'),(438.5,40,'R','TVA'),(478.5,74.28,'R','Montant HT')]
def wrap(c,text,w):
    out=[];cur=''
    for word in text.split():
        cand=(cur+' '+word) if cur else word
        if c.stringWidth(cand,'R',8.5)<=w: cur=cand
        else: out.append(cur); cur=word
    out.append(cur); return out

def render(inv):
    buf=io.BytesIO()
    c=canvas.Canvas(buf,pagesize=A4,pageCompression=1,invariant=1)
    groups={};order=[]
    for l in inv['lines']:
        k=(l['web'],l['ref'])
        if k not in groups: groups[k]=[];order.append(k)
        groups[k].append(l)
    rows=[]
    for k in order:
        rows.append(('G',('Commande web n° ' if k[0] else 'Ticket comptoir ')+k[1]))
        for l in groups[k]: rows.append(('I',l,wrap(c,l['label'],182)))
    pages=[];cur=[];room=520
    for r in rows:
        h=17 if r[0]=='G' else 13.5+10*(len(r[2])-1)
        if h>room and cur: pages.append(cur);cur=[];room=660
        cur.append(r);room-=h
    pages.append(cur)
    n=len(pages)
    for pi,page in enumerate(pages):
        if pi==0:
            c.setFont('B',14);c.drawString(42.5,792,'Marée & Primeurs Delorme')
            c.setFont('R',8.5)
            for j,t in enumerate(['SAS au capital de 50 000 EUR',"Marché d'intérêt national de Rungis",'Pavillon des fruits et légumes, allée C, cases 12-14','94150 Rungis','Tél. 01 41 80 00 00 · factures@delorme-primeurs.example','SIREN 123 456 782 · SIRET 123 456 782 00010','RCS Créteil 123 456 782 · N° TVA FR11123456782']):
                c.drawString(42.5,775-11*j,t)
            c.setFont('B',22);c.drawString(314,790,'FACTURE')
            c.setFont('R',8.5)
            for j,(a,b) in enumerate([('N°',inv['number']),('Date','02/12/2026'),('Échéance','01/01/2027'),('Règlement','LCR 30 jours'),('Code client',inv['code'])]):
                c.drawString(314,770-12*j,a);c.drawString(384,770-12*j,b)
            c.rect(305,620,247.8,92);c.setFont('B',10);c.drawString(314,690,inv['name'])
            c.setFont('R',8.5)
            for j,t in enumerate(['18 rue des Halles','75001 Paris','SIRET 987 654 324 00017','N° TVA FR52987654324']):
                c.drawString(314,676-11*j,t)
            y=600
        else:
            c.setFont('B',11);c.drawString(42.5,796,'Marée & Primeurs Delorme');c.drawRightString(552.78,796,'FACTURE n° %s (suite)'%inv['number'])
            c.setFont('R',8.5);c.drawString(42.5,781,'Client : %s · code %s · date 02/12/2026'%(inv['name'],inv['code']))
            c.line(42.5,772,552.78,772);y=756
        c.setFillColorRGB(.13,.25,.4);c.rect(42.5,y-18,510.28,18,stroke=0,fill=1)
        c.setFillColorRGB(1,1,1);c.setFont('B',8)
        for x,w,a,t in COLS:
            if a=='L': c.drawString(x+4,y-12,t)
            else: c.drawRightString(x+w-4,y-12,t)
        y-=18
        for r in page:
            if r[0]=='G':
                c.setFillColorRGB(.93,.94,.95);c.rect(42.5,y-15.5,510.28,13,stroke=0,fill=1)
                c.setFillColorRGB(.13,.25,.4);c.setFont('B',8.5);c.drawString(46.5,y-10.5,r[1]);y-=17
            else:
                l=r[1];c.setFillColorRGB(.1,.1,.1);c.setFont('R',8.5)
                cells=[l['art'],None,fr(l['q']),l['unit'],eur(l['pu']),fr(l['rate'])+' %',eur(l['ht'])]
                for (x,w,a,t),v in zip(COLS,cells):
                    if v is None: continue
                    if a=='L': c.drawString(x+4,y-9.6,v)
                    else: c.drawRightString(x+w-4,y-9.6,v)
                for j,t in enumerate(r[2]): c.drawString(102.5,y-9.6-10*j,t)
                h=13.5+10*(len(r[2])-1);y-=h
                c.setStrokeColorRGB(.8,.81,.83);c.setLineWidth(.4);c.line(42.5,y,552.78,y)
        if pi==n-1:
            tot={};ht=sum(l['ht'] for l in inv['lines']);vat=sum(l['vat'] for l in inv['lines'])
            for l in inv['lines']:
                b=tot.setdefault(l['rate'],[0,0]);b[0]+=l['ht'];b[1]+=l['vat']
            y-=16;c.setFont('B',8);c.drawString(46.5,y-10,'Taux TVA');c.drawRightString(208.5,y-10,'Base HT');c.drawRightString(294.5,y-10,'Montant TVA')
            c.setFont('R',8.5)
            for j,(rt,(b,v)) in enumerate(sorted(tot.items())):
                c.drawString(46.5,y-24-14*j,fr(rt)+' %');c.drawRightString(208.5,y-24-14*j,eur(b));c.drawRightString(294.5,y-24-14*j,eur(v))
            c.setFont('R',9);c.drawString(349,y-11,'Total HT');c.drawRightString(548,y-11,eur(ht))
            c.drawString(349,y-27,'Total TVA');c.drawRightString(548,y-27,eur(vat))
            c.setFont('B',10.5);c.drawString(349,y-45,'Total TTC');c.drawRightString(548,y-45,eur(ht+vat))
            c.setFont('R',7.5)
            for j,t in enumerate(['Règlement : LCR 30 jours. Date d\'échéance : 01/01/2027.',"Escompte : Pas d'escompte pour paiement anticipé.","Pénalités de retard : 3 fois le taux d'intérêt légal, exigibles dès le lendemain de la date d'échéance.","En cas de retard de paiement, une indemnité forfaitaire pour frais de recouvrement de 40 EUR est due de plein droit (art. L441-10 et D441-5 du Code de commerce)."]):
                c.drawString(42.5,y-90-9.6*j,t)
        c.setFont('R',6.8);c.drawCentredString(297.64,36,'Marée & Primeurs Delorme · SAS au capital de 50 000 EUR · SIRET 123 456 782 00010 · RCS Créteil 123 456 782 · N° TVA FR11123456782')
        c.setFont('R',7.5);c.drawString(42.5,25,'FACTURE n° '+inv['number']);c.drawRightString(552.78,25,'Page %d / %d'%(pi+1,n))
        c.showPage()
    c.save();return buf.getvalue()


def main():
    day = load(sys.argv[1])
    render(day[0])
    best = None
    for _ in range(3):
        started = time.perf_counter()
        for inv in day:
            render(inv)
        elapsed = time.perf_counter() - started
        best = elapsed if best is None or elapsed < best else best
    print(best)


if __name__ == '__main__':
    main()
