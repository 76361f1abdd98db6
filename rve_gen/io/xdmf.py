"""``.xdmf``: XDMF 3 voxel mesh with inline XML data (one self-contained file, no HDF5), read by
ParaView; phase as cell attribute, lengths and names in an ``Information`` element."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from rve_gen.io import _metadata
from rve_gen.io.mesh import from_cells, to_mesh
from rve_gen.microstructure import Microstructure

TOPOLOGY = {2: "Quadrilateral", 3: "Hexahedron"}


def _item(parent, array: np.ndarray, kind: str) -> None:
    item = ET.SubElement(
        parent,
        "DataItem",
        DataType=kind,
        Dimensions=" ".join(str(n) for n in array.shape),
        Format="XML",
        Precision="8",
    )
    fmt = "%d" if kind == "Int" else "%.17g"
    item.text = "\n".join(" ".join(fmt % v for v in row) for row in array.reshape(len(array), -1))


def write(path: Path, ms: Microstructure) -> None:
    """Points, cells and the phase attribute as inline XML."""
    mesh = to_mesh(ms)
    cells = mesh.cells[0].data
    root = ET.Element("Xdmf", Version="3.0")
    grid = ET.SubElement(ET.SubElement(root, "Domain"), "Grid", Name="rve", GridType="Uniform")
    topology = ET.SubElement(
        grid, "Topology", TopologyType=TOPOLOGY[ms.ndim], NumberOfElements=str(len(cells))
    )
    _item(topology, cells, "Int")
    _item(
        ET.SubElement(grid, "Geometry", GeometryType="XY" if ms.ndim == 2 else "XYZ"),
        mesh.points,
        "Float",
    )
    attribute = ET.SubElement(
        grid, "Attribute", Name="phase", AttributeType="Scalar", Center="Cell"
    )
    _item(attribute, ms.labels.reshape(-1, 1), "Int")
    ET.SubElement(grid, "Information", Name=_metadata.KEY, Value=_metadata.dumps(ms))
    ET.ElementTree(root).write(path, xml_declaration=True, encoding="utf-8")


def read(path: Path) -> Microstructure:
    """Rebuild the label image from a file written by :func:`write`."""
    grid = ET.parse(path).getroot().find("Domain/Grid")
    if grid is None or grid.find("Topology/DataItem") is None:
        raise ValueError(f"{path} is not an XDMF voxel mesh written by rve_gen.")

    def data(xpath: str, dtype) -> np.ndarray:
        item = grid.find(xpath)
        shape = tuple(int(n) for n in item.attrib["Dimensions"].split())
        return np.array(item.text.split(), dtype=dtype).reshape(shape)

    points = data("Geometry/DataItem", float)
    cells = data("Topology/DataItem", np.int64)
    phase = data("Attribute[@Name='phase']/DataItem", np.int64).ravel()
    info = grid.find(f"Information[@Name='{_metadata.KEY}']")
    names = json.loads(info.attrib["Value"])["phases"] if info is not None else None
    return from_cells(points, cells, phase, names)
