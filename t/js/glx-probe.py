# Run inside the desktop container (DISPLAY=:1, as aXonian): an OpenGL
# context on the VNC display through GLX, with whatever Mesa picks, a clear
# to a colour, the pixel read back.  Prints JSON: renderer, vendor, version,
# pixel.  Only the Python standard library (ctypes) and the image's libGL.
import ctypes, json

X = ctypes.CDLL('libX11.so.6')
GL = ctypes.CDLL('libGL.so.1')
vp, ci = ctypes.c_void_p, ctypes.c_int

X.XOpenDisplay.restype = vp
X.XOpenDisplay.argtypes = [ctypes.c_char_p]
GL.glXChooseFBConfig.restype = ctypes.POINTER(vp)
GL.glXChooseFBConfig.argtypes = [vp, ci, ctypes.POINTER(ci), ctypes.POINTER(ci)]
GL.glXCreatePbuffer.restype = ctypes.c_ulong
GL.glXCreatePbuffer.argtypes = [vp, vp, ctypes.POINTER(ci)]
GL.glXCreateNewContext.restype = vp
GL.glXCreateNewContext.argtypes = [vp, vp, ci, vp, ci]
GL.glXMakeContextCurrent.argtypes = [vp, ctypes.c_ulong, ctypes.c_ulong, vp]
GL.glGetString.restype = ctypes.c_char_p
GL.glClearColor.argtypes = [ctypes.c_float] * 4

d = X.XOpenDisplay(None)
assert d, 'no display'
attrs = (ci * 7)(0x8010, 0x4, 0x8011, 0x1, 0x8012, 1, 0)  # pbuffer, RGBA, X renderable
n = ci(0)
cfgs = GL.glXChooseFBConfig(d, 0, attrs, ctypes.byref(n))
assert cfgs and n.value > 0, 'no GLX framebuffer config'
pb = GL.glXCreatePbuffer(d, cfgs[0], (ci * 5)(0x8041, 16, 0x8040, 16, 0))
ctx = GL.glXCreateNewContext(d, cfgs[0], 0x8014, None, 1)
assert ctx, 'no GLX context'
assert GL.glXMakeContextCurrent(d, pb, pb, ctx), 'glXMakeContextCurrent'
GL.glClearColor(1.0, 0.5, 0.0, 1.0)
GL.glClear(0x4000)
GL.glFinish()
px = (ctypes.c_ubyte * 4)()
GL.glReadPixels(0, 0, 1, 1, 0x1908, 0x1401, px)
print(json.dumps({
    'vendor': GL.glGetString(0x1F00).decode(),
    'renderer': GL.glGetString(0x1F01).decode(),
    'version': GL.glGetString(0x1F02).decode(),
    'pixel': list(px),
}))
